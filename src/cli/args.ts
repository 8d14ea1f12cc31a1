// Option parsers shared by the `aigc` commands: each names the option in its error.

import { InvalidArgumentError } from "commander";

export const integer = (what: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`${what} must be an integer, got "${value}"`);
  return n;
};

export const positiveInt = (what: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${what} must be a positive integer, got "${value}"`);
  return n;
};

export const finiteNumber = (what: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`${what} must be a number, got "${value}"`);
  return n;
};

export const nonNegativeInt = (what: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${what} must be an integer ≥ 0, got "${value}"`);
  return n;
};

export const fraction = (what: string) => (value: string) => {
  const n = Number(value);
  if (!(n >= 0 && n < 1)) throw new InvalidArgumentError(`${what} must be a number in [0, 1), got "${value}"`);
  return n;
};
