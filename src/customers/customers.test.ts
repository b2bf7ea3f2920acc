import { test } from 'node:test';
import assert from 'node:assert/strict';
import { maskPii } from '../governance/masking.ts';
import { customerOriginal, presentCustomerForStaff, type Customer } from './customers.ts';

const customer: Customer = {
  id: 'cus_1',
  externalId: 'shop-77',
  name: '李娜',
  phone: '13700001111',
  email: 'li.na@example.cn',
  vipLevel: 2,
  attributes: {
    备用电话: '13600002222',
    座机号码: 13912345678,
    会员卡: 'VIP-2026',
    积分: 1280,
    家庭成员: [{ 关系: '配偶', 身份证: '440305199003074218' }],
    已实名: true,
    备注: null,
  },
  createdAt: 1,
};

test('staff see every personal number in the attributes of a customer masked, at any depth; other values as written', () => {
  const staff = presentCustomerForStaff(customer);
  assert.equal(staff.phone, '137****1111');
  assert.deepEqual(staff.attributes, {
    备用电话: '136****2222',
    座机号码: '139****5678',
    会员卡: 'VIP-2026',
    积分: 1280,
    家庭成员: [{ 关系: '配偶', 身份证: maskPii('440305199003074218').text }],
    已实名: true,
    备注: null,
  });
  const id = (staff.attributes['家庭成员'] as Array<{ 身份证: string }>)[0]!.身份证;
  assert.notEqual(id, '440305199003074218');
  assert.ok(!id.includes('19900307'), `the ID card number is masked: ${id}`);
  // the stored customer is not changed
  assert.equal(customer.attributes['备用电话'], '13600002222');
});

test('the original of a customer names each attribute that held personal data, for the audit trail', () => {
  const original = customerOriginal(customer);
  assert.deepEqual(original.attributes, customer.attributes);
  assert.deepEqual(original.pii, ['phone', 'email', 'attributes.备用电话', 'attributes.座机号码', 'attributes.家庭成员']);
  assert.deepEqual(customerOriginal({ ...customer, phone: null, email: null, attributes: { 会员卡: 'VIP-2026' } }).pii, []);
});
