/**
 * PII masking for message text: mainland mobile and landline numbers, resident ID card numbers, bank card numbers and
 * email addresses are replaced by a masked form that keeps a hint (138****8000). A pure function of the text; who may
 * see unmasked text is decided elsewhere (governance grants), never here.
 *
 * How numbers are found: the text is cut into runs of digit groups joined by short separators (spaces, hyphens,
 * parentheses), so `138 0013 8000`, `138-0013-8000` and `(010) 1234-5678` are each one run. Within a run, every
 * window of whole groups is tried against the detectors below in their order; a window that passes is masked and
 * its digits are not offered to later detectors. A group is never split, so digits glued to a longer number
 * (an order number 202611250001, a 19-digit tracking number) are not taken for a phone inside it. Full-width digits
 * (１３８…) count as digits.
 */

export type PiiKind = 'email' | 'id_card' | 'mobile' | 'bank_card' | 'landline';

export interface MaskResult {
  text: string;
  /** the kinds found, each once, in the order of the detectors */
  found: PiiKind[];
}

/** A detector of numbers: tests the digits of a window (ASCII, separators removed) and masks it. */
export interface NumberDetector {
  kind: PiiKind;
  /** what it finds, for documentation and audit screens */
  description: string;
  test(digits: string): boolean;
  /** the replacement for the window; `original` is the window's text as written */
  mask(digits: string, original: string): string;
}

const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK = '10X98765432';

/** GB 11643-1999: 17 digits and a check character computed from them (mod 11, X for 10). */
export function isValidIdCard(id: string): boolean {
  if (!/^[1-9]\d{16}[\dX]$/i.test(id)) return false;
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += (id.charCodeAt(i) - 48) * ID_WEIGHTS[i]!;
  return ID_CHECK[sum % 11] === id[17]!.toUpperCase();
}

/** The Luhn check used by bank card numbers (ISO/IEC 7812). */
export function passesLuhn(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false;
  let sum = 0;
  for (let i = digits.length - 1, double = false; i >= 0; i--, double = !double) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** YYYYMMDD from 1900-01-01 to 2099-12-31, a real calendar day. */
function isDate(yyyymmdd: string): boolean {
  const y = Number(yyyymmdd.slice(0, 4));
  const m = Number(yyyymmdd.slice(4, 6));
  const d = Number(yyyymmdd.slice(6, 8));
  if (y < 1900 || y > 2099 || m < 1 || m > 12 || d < 1) return false;
  return d <= new Date(Date.UTC(y, m, 0)).getUTCDate();
}

/** An 18-character ID card number: a birth date at characters 7–14 and the check character. */
function isIdCard(d: string): boolean {
  return d.length === 18 && isDate(d.slice(6, 14)) && isValidIdCard(d);
}

const MOBILE = /^1[3-9]\d{9}$/;
const MOBILE_WITH_COUNTRY_CODE = /^(?:0086|86)(1[3-9]\d{9})$/;
// area code 010 or 02x with an 8-digit number, or 0 + three digits with 7 or 8; a local number never starts with 0
const LANDLINE = /^(0(?:10|2\d))([1-9]\d{7})$|^(0[3-9]\d\d)([1-9]\d{6,7})$/;

const maskMobile = (core: string) => `${core.slice(0, 3)}****${core.slice(-4)}`;

/**
 * The number detectors, in priority order: an 18-digit window that is a valid ID card number is not also read as a
 * bank card; a +86 mobile number is masked as a mobile even when its 13 digits happen to pass the Luhn check.
 */
export const NUMBER_DETECTORS: readonly NumberDetector[] = [
  {
    kind: 'id_card',
    description: '18-character resident ID card number: valid birth date and GB 11643 check character (X allowed)',
    test: isIdCard,
    mask: (d) => `${d.slice(0, 6)}********${d.slice(-4).toUpperCase()}`,
  },
  {
    kind: 'mobile',
    description: 'mainland mobile number with country code (+86 / 0086 / 86)',
    test: (d) => MOBILE_WITH_COUNTRY_CODE.test(d),
    // the country code is kept as written ("+86 " stays "+86 "), the number itself is masked
    mask: (d, original) => {
      const core = MOBILE_WITH_COUNTRY_CODE.exec(d)![1]!;
      const { end, next } = afterDigits(original, d.length - core.length);
      return `${original.slice(0, end)}${next > end ? original.slice(end, next) : ' '}${maskMobile(core)}`;
    },
  },
  {
    kind: 'bank_card',
    description: 'bank card number: 13–19 digits passing the Luhn check, not starting with a date (20261125…: order numbers)',
    // no issued card range starts with 19 or 20, while order and tracking numbers often start with their date
    test: (d) => d.length >= 13 && d.length <= 19 && !isDate(d.slice(0, 8)) && passesLuhn(d),
    mask: (d) => `****${d.slice(-4)}`,
  },
  {
    kind: 'mobile',
    description: 'mainland mobile number: 11 digits starting 13–19',
    test: (d) => MOBILE.test(d),
    mask: (d) => maskMobile(d),
  },
  {
    kind: 'landline',
    description: 'landline with area code: 010/02x + 8 digits, 0xxx + 7–8 digits (an extension stays visible)',
    test: (d) => LANDLINE.test(d),
    // the area code and whatever was written after it ("(0755) ", "010-") stay
    mask: (d, original) => {
      const m = LANDLINE.exec(d)!;
      const { next } = afterDigits(original, (m[1] ?? m[3]!).length);
      return `${original.slice(0, next)}****${d.slice(-4)}`;
    },
  },
];

/** In a window's text: the index after its first n digits, and the index of the digit after those. */
function afterDigits(original: string, n: number): { end: number; next: number } {
  let end = 0;
  while (n > 0) if (isDigitChar(original.charCodeAt(end++))) n--;
  let next = end;
  while (next < original.length && !isDigitChar(original.charCodeAt(next))) next++;
  return { end, next };
}

const KIND_ORDER: readonly PiiKind[] = ['email', 'id_card', 'mobile', 'bank_card', 'landline'];

function isDigitChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 0xff10 && c <= 0xff19);
}

/** ASCII digits of a string with full-width digits, keeping X/x (the ID card check character). */
function asciiDigits(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) out += s[i];
    else if (c >= 0xff10 && c <= 0xff19) out += String.fromCharCode(c - 0xff10 + 48);
    else if (c === 88 || c === 120 || c === 0xff38 || c === 0xff58) out += 'X';
  }
  return out;
}

// local part, @ (or full-width ＠), domain labels, a Latin top-level domain; dots may be full-width
const EMAIL = /[A-Za-z0-9][A-Za-z0-9._%+-]*[@＠][A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:[.．][A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*[.．][A-Za-z]{2,24}(?![A-Za-z0-9])/g;

// digit groups (an ID card group may end in X) joined by at most three separator characters
const D = '[0-9０-９]';
const SEP_CHAR = '[ \\u00a0\\u3000\\-‐‑–—－()（）]';
const SEP = `${SEP_CHAR}{1,3}`;
const GROUP = `${D}+(?:[XxＸｘ](?![A-Za-z]))?`;
const RUN = new RegExp(`${GROUP}(?:${SEP}${GROUP})*`, 'g');
const GROUP_IN_RUN = new RegExp(GROUP, 'g');
const MAX_WINDOW_DIGITS = 19;
/** the shortest number a detector accepts: a mobile or landline number, 11 digits */
const MIN_WINDOW_DIGITS = 11;

// cheap pre-checks: a number detector needs at least 11 digits in one run; an email needs an @
const MAYBE_NUMBER = new RegExp(`${D}(?:[0-9０-９XxＸｘ]|${SEP_CHAR}){${MIN_WINDOW_DIGITS - 1},}`);
const MAYBE_EMAIL = /[@＠]/;

interface Group {
  start: number;
  end: number;
  digits: string;
}

/** Masks the PII in a run of digit groups (positions relative to the run). */
function maskRun(run: string, found: Set<PiiKind>): string {
  if (run.length < MIN_WINDOW_DIGITS) return run;
  const groups: Group[] = [];
  for (const m of run.matchAll(GROUP_IN_RUN)) groups.push({ start: m.index, end: m.index + m[0].length, digits: asciiDigits(m[0]) });
  const taken = new Array<PiiKind | null>(groups.length).fill(null);
  const replacements: Array<{ from: number; to: number; text: string }> = [];
  for (const detector of NUMBER_DETECTORS) {
    for (let i = 0; i < groups.length; i++) {
      if (taken[i]) continue;
      // the longest window starting at group i that the detector accepts
      let best = -1;
      let digits = '';
      for (let j = i; j < groups.length && !taken[j]; j++) {
        digits += groups[j]!.digits;
        if (digits.length > MAX_WINDOW_DIGITS) break;
        // X is only an ID card's last character: a window with X inside is no number, nor is any longer one
        const x = digits.indexOf('X');
        if (x >= 0 && x < digits.length - 1) break;
        if (detector.test(digits)) best = j;
      }
      if (best < 0) continue;
      let windowDigits = '';
      for (let j = i; j <= best; j++) {
        windowDigits += groups[j]!.digits;
        taken[j] = detector.kind;
      }
      const from = groups[i]!.start;
      const to = groups[best]!.end;
      replacements.push({ from, to, text: detector.mask(windowDigits, run.slice(from, to)) });
      found.add(detector.kind);
      i = best;
    }
  }
  if (replacements.length === 0) return run;
  replacements.sort((a, b) => a.from - b.from);
  let out = '';
  let at = 0;
  for (const r of replacements) {
    out += run.slice(at, r.from) + r.text;
    at = r.to;
  }
  return out + run.slice(at);
}

function maskEmail(address: string): string {
  const at = address.search(/[@＠]/);
  return `${address[0]}***@${address.slice(at + 1)}`;
}

/**
 * Masks mobile and landline numbers, ID card numbers, bank card numbers and email addresses in a text.
 * Everything else — order numbers, dates, amounts, other digit runs that fail the checks — is left as it is.
 */
export function maskPii(text: string): MaskResult {
  const maybeEmail = MAYBE_EMAIL.test(text);
  const maybeNumber = MAYBE_NUMBER.test(text);
  if (!maybeEmail && !maybeNumber) return { text, found: [] };
  const found = new Set<PiiKind>();
  let out = text;
  if (maybeEmail) {
    out = out.replace(EMAIL, (m) => {
      found.add('email');
      return maskEmail(m);
    });
  }
  if (maybeNumber) out = out.replace(RUN, (run) => maskRun(run, found));
  return { text: out, found: KIND_ORDER.filter((k) => found.has(k)) };
}
