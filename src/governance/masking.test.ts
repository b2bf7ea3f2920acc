import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { NUMBER_DETECTORS, isValidIdCard, maskPii, passesLuhn, type PiiKind } from './masking.ts';

const masked = (text: string) => maskPii(text).text;

describe('PII masking', () => {
  test('mobile numbers keep the first 3 and last 4 digits, however they are written', () => {
    const cases: Array<[string, string]> = [
      ['我的手机号是13800138000，麻烦回电', '我的手机号是138****8000，麻烦回电'],
      ['电话：138 0013 8000', '电话：138****8000'],
      ['电话 138-0013-8000 谢谢', '电话 138****8000 谢谢'],
      ['打1380 013 8000找我', '打138****8000找我'],
      ['+86 138 0013 8000', '+86 138****8000'],
      ['+8613800138000', '+86 138****8000'],
      ['0086-13912345678', '0086-139****5678'],
      ['(+86)19912345678', '(+86)199****5678'],
      ['手机１３８００１３８０００', '手机138****8000'],
      ['Tel:15012345678/16612345678', 'Tel:150****5678/166****5678'],
      ['两个号码 13800138000 13900139000 都可以', '两个号码 138****8000 139****9000 都可以'],
    ];
    for (const [input, expected] of cases) assert.deepEqual(maskPii(input), { text: expected, found: ['mobile'] }, input);
  });

  test('landlines with area code, in parentheses or with an extension', () => {
    const cases: Array<[string, string]> = [
      ['公司电话010-12345678', '公司电话010-****5678'],
      ['座机(0755)1234567', '座机(0755)****4567'],
      ['座机（021）8765 4321', '座机（021）****4321'],
      ['请拨0571-87654321转802', '请拨0571-****4321转802'],
      ['总机 02087654321', '总机 020****4321'],
    ];
    for (const [input, expected] of cases) assert.deepEqual(maskPii(input), { text: expected, found: ['landline'] }, input);
  });

  test('ID card numbers are masked only when the check character is right', () => {
    assert.ok(isValidIdCard('11010519491231002X'));
    assert.ok(isValidIdCard('110101199003070011'));
    assert.ok(!isValidIdCard('110101199003070012'));
    const cases: Array<[string, string]> = [
      ['身份证号11010519491231002X', '身份证号110105********002X'],
      ['身份证 44030419900307123x 已核实', '身份证 440304********123X 已核实'],
      ['证件号：110101 19900307 0011', '证件号：110101********0011'],
      ['身份证110101200002294561', '身份证110101********4561'],
      ['身份证１１０１０５１９４９１２３１００２Ｘ', '身份证110105********002X'],
    ];
    for (const [input, expected] of cases) assert.deepEqual(maskPii(input), { text: expected, found: ['id_card'] }, input);
  });

  test('bank card numbers that pass the Luhn check show the last 4 digits', () => {
    assert.ok(passesLuhn('6222021234567890128'));
    assert.ok(!passesLuhn('6222021234567890123'));
    const cases: Array<[string, string]> = [
      ['退款请打到6222 0212 3456 7890 128', '退款请打到****0128'],
      ['卡号6217-0000-0012-3456-786，户名张三', '卡号****6786，户名张三'],
      ['信用卡4367421234567896', '信用卡****7896'],
      ['卡号 6228 4804 0256 4890 0', '卡号 ****8900'],
    ];
    for (const [input, expected] of cases) assert.deepEqual(maskPii(input), { text: expected, found: ['bank_card'] }, input);
  });

  test('email addresses keep the first character and the domain', () => {
    const cases: Array<[string, string]> = [
      ['发到zhangsan@example.com谢谢', '发到z***@example.com谢谢'],
      ['邮箱 li.si+kefu@mail.example.com.cn。', '邮箱 l***@mail.example.com.cn。'],
      ['QQ邮箱13800138000@qq.com', 'QQ邮箱1***@qq.com'],
      ['wang＠163.com', 'w***@163.com'],
    ];
    for (const [input, expected] of cases) assert.deepEqual(maskPii(input), { text: expected, found: ['email'] }, input);
  });

  test('order numbers, dates, amounts and other numbers stay as they are', () => {
    const untouched = [
      '订单号202611250001，2026-11-25 14:03:12下单，实付¥1,299.00',
      '物流单号SF1234567890123还没更新', // 13 digits, fails Luhn
      '订单2026112514031201已发货', // passes Luhn but starts with a date: an order number, not a card
      '客服热线10086，400-820-8820，95588',
      '身份证号110101199003070012', // wrong check character
      '110101199002301236', // right check character, but there is no 30 February
      '卡号6222 0212 3456 7890 123', // fails Luhn
      '12345678901 不是手机号，138001380001 多了一位',
      'iOS 17.1.2，版本号 3.2.10，型号 A2849',
      '2026/11/25 共3件 合计12999元 优惠券 50 元',
      'QQ群 123456789',
      '房间号 0571 不是电话',
      '我的邮箱是 zhangsan at example dot com',
      '时间戳1732512345678',
      '73012345678901',
    ];
    for (const text of untouched) assert.deepEqual(maskPii(text), { text, found: [] }, text);
  });

  test('a real-looking conversation with everything planted leaks nothing and keeps the rest', () => {
    const message =
      '您好，我是张先生，手机13800138000，备用号码 +86 139-1234-5678，座机010-62345678。' +
      '身份证11010519491231002X，退款请退到工行卡6222 0212 3456 7890 128，发票发到zhangsan@example.com。' +
      '订单号202611250001，2026-11-25下单，金额¥1,299.00，共2件。';
    const r = maskPii(message);
    assert.equal(
      r.text,
      '您好，我是张先生，手机138****8000，备用号码 +86 139****5678，座机010-****5678。' +
        '身份证110105********002X，退款请退到工行卡****0128，发票发到z***@example.com。' +
        '订单号202611250001，2026-11-25下单，金额¥1,299.00，共2件。',
    );
    assert.deepEqual(r.found, ['email', 'id_card', 'mobile', 'bank_card', 'landline']);
  });

  test('text without digits or @ is returned as it is', () => {
    assert.deepEqual(maskPii('请问退款什么时候到账？'), { text: '请问退款什么时候到账？', found: [] });
    assert.deepEqual(maskPii(''), { text: '', found: [] });
  });

  test('zero leaks over many generated messages with planted PII and near-misses', () => {
    let seed = 20261125;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const digits = (n: number) => Array.from({ length: n }, () => rand(10)).join('');
    const luhnComplete = (p: string) => [...'0123456789'].map((c) => p + c).find(passesLuhn)!;
    const W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const idComplete = (p: string) => p + '10X98765432'[[...p].reduce((s, c, i) => s + Number(c) * W[i]!, 0) % 11];
    const separate = (d: string, groups: number[]) => {
      const seps = ['', ' ', '-', ' - ', '　'];
      const sep = seps[rand(seps.length)]!;
      const parts: string[] = [];
      let at = 0;
      for (const g of groups) {
        parts.push(d.slice(at, at + g));
        at += g;
      }
      if (at < d.length) parts.push(d.slice(at));
      return parts.filter(Boolean).join(sep);
    };
    const plants: Array<() => { kind: PiiKind; written: string; digits: string }> = [
      () => {
        const d = `1${3 + rand(7)}${digits(9)}`;
        return { kind: 'mobile', written: separate(d, [3, 4, 4]), digits: d };
      },
      () => {
        const d = `1${3 + rand(7)}${digits(9)}`;
        return { kind: 'mobile', written: `+86 ${separate(d, [3, 4])}`, digits: d };
      },
      () => {
        const d = idComplete(`${1 + rand(8)}${digits(5)}19${50 + rand(50)}0${1 + rand(9)}1${rand(9)}${digits(3)}`);
        return { kind: 'id_card', written: separate(d, [6, 8]), digits: d };
      },
      () => {
        const d = luhnComplete(`62${digits(14 + rand(3))}`);
        return { kind: 'bank_card', written: separate(d, [4, 4, 4, 4]), digits: d };
      },
      () => {
        const area = ['010', '021', '0755', '0571'][rand(4)]!;
        const d = `${area}${2 + rand(8)}${digits(area.length === 3 ? 7 : 6 + rand(2))}`;
        return { kind: 'landline', written: separate(d, [area.length]), digits: d };
      },
    ];
    // digits glued to digits are one number (see masking.ts), so fillers end in something else
    const fillers = ['您好，', '我的信息是', '，麻烦尽快处理', '。订单号202611250001，', '，金额¥1,299.00 ', '，2026-11-25 下单', '，谢谢！', '请核对：'];
    for (let n = 0; n < 3000; n++) {
      const planted = [plants[rand(plants.length)]!(), plants[rand(plants.length)]!()];
      const text = fillers[rand(fillers.length)]! + planted[0]!.written + fillers[rand(fillers.length)]! + planted[1]!.written + fillers[rand(fillers.length)]!;
      const out = masked(text);
      const squeezed = out.replace(/[\s\-　]/g, '');
      for (const p of planted) {
        assert.ok(!squeezed.includes(p.digits.slice(0, -4)), `leak of ${p.kind} ${p.written} in ${out}`);
      }
      assert.ok(out.includes('202611250001') || !text.includes('202611250001'), `order number kept in ${out}`);
      assert.ok(out.includes('¥1,299.00') || !text.includes('¥1,299.00'));
    }
  });

  test('the detector list documents itself', () => {
    for (const d of NUMBER_DETECTORS) assert.ok(d.description.length > 10);
  });
});
