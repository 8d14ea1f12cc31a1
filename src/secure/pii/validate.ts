// Checksums and rules that turn "digits of the right shape" into "a real identifier":
// Chinese resident ID (GB 11643: ISO 7064 MOD 11-2 + birth date + province code),
// US SSN (SSA allocation rules), Luhn for payment cards, and calendar dates.

const idWeights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const idCheckChars = "10X98765432";

/** Province-level codes (first two digits) used by PRC resident IDs. */
const provinceCodes = new Set([
  11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71,
  81, 82, 83, 91,
]);

/** The MOD 11-2 check character for the first 17 digits of a resident ID. */
export function chineseIdCheckChar(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += (first17.charCodeAt(i) - 48) * idWeights[i];
  return idCheckChars[sum % 11];
}

/** True when `id` is a valid 18-character PRC resident ID number. */
export function isValidChineseId(id: string, today: Date = new Date()): boolean {
  if (!/^\d{17}[\dXx]$/.test(id)) return false;
  if (!provinceCodes.has(Number(id.slice(0, 2)))) return false;
  const year = Number(id.slice(6, 10));
  const month = Number(id.slice(10, 12));
  const day = Number(id.slice(12, 14));
  if (!isPastDate(year, month, day, today)) return false;
  return chineseIdCheckChar(id.slice(0, 17)) === id[17].toUpperCase();
}

/**
 * US Social Security Number rules: area 001–899 except 666, group 01–99, serial
 * 0001–9999, and not one of the numbers the SSA voided after they were published in ads.
 */
export function isValidSsn(area: string, group: string, serial: string): boolean {
  const a = Number(area);
  if (a === 0 || a === 666 || a >= 900) return false;
  if (Number(group) === 0 || Number(serial) === 0) return false;
  const whole = `${area}${group}${serial}`;
  return whole !== "078051120" && whole !== "219099999";
}

/** Luhn (mod 10) check over a string of digits. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return digits.length > 0 && sum % 10 === 0;
}

/** Payment-card issuer prefixes and lengths (Visa, Mastercard, Amex, Discover, UnionPay, JCB). */
export function isCardNumber(digits: string): boolean {
  const n = digits.length;
  if (n < 13 || n > 19 || !luhnValid(digits)) return false;
  const p2 = Number(digits.slice(0, 2));
  const p4 = Number(digits.slice(0, 4));
  if (digits[0] === "4") return n === 13 || n === 16 || n === 19;
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return n === 16;
  if (p2 === 34 || p2 === 37) return n === 15;
  if (p4 === 6011 || p2 === 65) return n === 16 || n === 19;
  if (p2 === 62) return n >= 16 && n <= 19;
  if (p4 >= 3528 && p4 <= 3589) return n >= 16 && n <= 19;
  return false;
}

/** A real calendar date between 1900-01-01 and `today` (inclusive). */
export function isPastDate(year: number, month: number, day: number, today: Date = new Date()): boolean {
  if (!Number.isInteger(year) || year < 1900 || month < 1 || month > 12 || day < 1 || day > 31) return false;
  const t = Date.UTC(year, month - 1, day);
  const d = new Date(t);
  if (d.getUTCFullYear() !== year || d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day) return false;
  return t <= Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate());
}

const monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

/** Month number (1–12) of an English month name or abbreviation, or 0. */
export function monthFromName(name: string): number {
  const key = name.toLowerCase().slice(0, 3);
  const i = monthNames.indexOf(key);
  if (i < 0) return 0;
  const full = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
  ][i];
  const lower = name.toLowerCase().replace(/\.$/, "");
  return full.startsWith(lower) || lower === "sept" ? i + 1 : 0;
}

/**
 * True when a date string (ISO, US m/d/y or d/m/y, "March 7, 1979", "7 March 1979",
 * 1979年3月7日, 1979年3月, YYYYMMDD) names a real past date. Two-digit years are read as
 * 19yy or 20yy, whichever is not in the future. Year-month forms use day 1.
 */
export function isPastDateText(text: string, today: Date = new Date()): boolean {
  let m = /^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$/.exec(text);
  if (m) return isPastDate(+m[1], +m[2], +m[3], today);
  m = /^(\d{4})(\d{2})(\d{2})$/.exec(text);
  if (m) return isPastDate(+m[1], +m[2], +m[3], today);
  m = /^(\d{4})年(\d{1,2})月(?:(\d{1,2})[日号])?$/.exec(text);
  if (m) return isPastDate(+m[1], +m[2], m[3] === undefined ? 1 : +m[3], today);
  m = /^(\d{1,2})[-/.](\d{1,2})[-/.](\d{2}|\d{4})$/.exec(text);
  if (m) {
    const years = m[3].length === 4 ? [+m[3]] : [2000 + +m[3], 1900 + +m[3]];
    return years.some((y) => isPastDate(y, +m![1], +m![2], today) || isPastDate(y, +m![2], +m![1], today));
  }
  m = /^([A-Za-z]{3,9})\.? (\d{1,2})(?:st|nd|rd|th)?,? (\d{4})$/.exec(text);
  if (m) return isPastDate(+m[3], monthFromName(m[1]), +m[2], today);
  m = /^(\d{1,2})(?:st|nd|rd|th)? ([A-Za-z]{3,9})\.?,? (\d{4})$/.exec(text);
  if (m) return isPastDate(+m[3], monthFromName(m[2]), +m[1], today);
  return false;
}
