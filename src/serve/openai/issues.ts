// Turn zod issues into sentences that name the field path, what was expected and what
// was received. Shared by request-body parsing (OpenAI-style messages) and the server
// config loader.

import type { z } from "zod";

export interface IssueDescription {
  /** `messages[0].content`, or "" for the root. */
  readonly path: string;
  /** "expected a string", "expected one of 'a', 'b'", "missing", … */
  readonly expected: string;
  /** The received value, short and JSON-ish ("-1", "\"abc\"", "an object"); undefined when absent. */
  readonly got: string | undefined;
  /** The field was absent (or undefined) where it is required. */
  readonly missing: boolean;
  /** The value had the wrong JSON type (as opposed to a wrong value of the right type). */
  readonly wrongType: boolean;
}

type Issue = z.core.$ZodIssue;
type PathKey = PropertyKey;

/** `["messages", 0, "content"]` → `messages[0].content`. */
export function formatPath(path: readonly PathKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out;
}

function valueAt(root: unknown, path: readonly PathKey[]): unknown {
  let v: unknown = root;
  for (const key of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

/** A short rendering of a received value; long strings and containers are summarised, never dumped. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return `an array of ${value.length} item${value.length === 1 ? "" : "s"}`;
  if (typeof value === "object") return "an object";
  if (typeof value === "string") return value.length > 40 ? `a string of ${value.length} characters` : JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return typeof value;
}

const typeNames: Record<string, string> = {
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "a boolean",
  array: "an array",
  object: "an object",
  null: "null",
  bigint: "an integer",
  record: "an object",
};

const typeName = (t: string): string => typeNames[t] ?? t;

function bound(issue: Issue & { code: "too_small" | "too_big" }): string {
  const isMin = issue.code === "too_small";
  const limit = isMin ? (issue as { minimum: number | bigint }).minimum : (issue as { maximum: number | bigint }).maximum;
  const inclusive = issue.inclusive ?? true;
  switch (issue.origin) {
    case "array":
    case "set":
      return isMin ? `expected at least ${limit} item${limit === 1 ? "" : "s"}` : `expected at most ${limit} items`;
    case "string":
      return isMin ? `expected at least ${limit} character${limit === 1 ? "" : "s"}` : `expected at most ${limit} characters`;
    default:
      return `expected a number ${isMin ? (inclusive ? ">=" : ">") : inclusive ? "<=" : "<"} ${limit}`;
  }
}

/**
 * In a failed union, the branch that got past the root type check is the one the caller
 * meant (an array whose item is wrong, not "expected a string"); descend into it.
 */
function deepestUnionIssue(issue: Issue & { code: "invalid_union" }): Issue | undefined {
  const branches = issue.errors.filter((branch) => branch.some((i) => i.path.length > 0 || i.code !== "invalid_type"));
  if (branches.length !== 1) return undefined;
  const inner = branches[0][0];
  return { ...inner, path: [...issue.path, ...inner.path] } as Issue;
}

/** A schema's own message ("expected a positive integer"), as opposed to zod's defaults ("Invalid input: …", "Too small: …"). */
const customExpectation = (message: string): string | undefined =>
  /^(Invalid|Too (small|big)|Unrecognized)\b/.test(message) ? undefined : message;

export function describeIssue(issue: Issue, input: unknown): IssueDescription {
  if (issue.code === "invalid_union") {
    const inner = deepestUnionIssue(issue);
    if (inner) return describeIssue(inner, input);
  }
  const received = valueAt(input, issue.path);
  const path = formatPath(issue.path);
  const got = received === undefined ? undefined : describeValue(received);
  const custom = customExpectation(issue.message);
  if (received === undefined && issue.code === "invalid_type") {
    return { path, expected: custom ?? `expected ${typeName(issue.expected)}`, got, missing: true, wrongType: true };
  }
  let expected: string;
  switch (issue.code) {
    case "invalid_type":
      expected = `expected ${typeName(issue.expected)}`;
      break;
    case "invalid_value":
      expected =
        issue.values.length === 1
          ? `expected ${JSON.stringify(issue.values[0])}`
          : `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
      break;
    case "too_small":
    case "too_big":
      expected = bound(issue);
      break;
    case "invalid_format":
      expected = `expected a valid ${issue.format}`;
      break;
    case "not_multiple_of":
      expected = `expected a multiple of ${issue.divisor}`;
      break;
    case "unrecognized_keys":
      expected = `unknown field${issue.keys.length === 1 ? "" : "s"} ${issue.keys.map((k) => `'${k}'`).join(", ")} (check the spelling)`;
      return { path, expected, got: undefined, missing: false, wrongType: false };
    default:
      expected = issue.message;
  }
  return {
    path,
    expected: custom ?? expected,
    got,
    missing: false,
    wrongType: issue.code === "invalid_type" || (issue.code === "invalid_union" && issue.errors.length > 0),
  };
}
