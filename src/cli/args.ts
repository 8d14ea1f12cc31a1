// Option parsers shared by the `aigc` commands: each names the option in its error.

import { InvalidArgumentError } from "commander";

export const integer = (what: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`${what} must be an integer, got "${v}"`);
  return n;
};

export const positiveInt = (what: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${what} must be a positive integer, got "${v}"`);
  return n;
};

export const finiteNumber = (what: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`${what} must be a number, got "${v}"`);
  return n;
};

export const nonNegativeInt = (what: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${what} must be an integer ≥ 0, got "${v}"`);
  return n;
};

export const fraction = (what: string) => (v: string) => {
  const n = Number(v);
  if (!(n >= 0 && n < 1)) throw new InvalidArgumentError(`${what} must be a number in [0, 1), got "${v}"`);
  return n;
};
