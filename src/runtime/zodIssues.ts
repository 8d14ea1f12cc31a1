// Turn zod issues into sentences that name the field path, what was expected and what was
// received, never zod's own multi-line dumps ("✖ Invalid input … → at image"). Every
// boundary that validates with zod uses it: HTTP bodies (serve/, apps/), the server config,
// files the CLI reads, encrypted-inference requests. It lives this low so that any layer may.

import { z } from "zod";

export interface IssueDescription {
  /** `messages[0].content`, or "" for the root. */
  readonly path: string;
  /** "expected a string", "expected one of 'a', 'b'", "missing", … */
  readonly expected: string;
  /** The received value, short and JSON-ish ("-1", "\"abc\"", "an object"); undefined when absent. */
  readonly got: string | undefined;
  /** The received value's JSON type ("a string", "an array of 2 items", "null"); undefined when absent. */
  readonly gotKind: string | undefined;
  /** The field was absent (or undefined) where it is required. */
  readonly missing: boolean;
  /** The value had the wrong JSON type (as opposed to a wrong value of the right type). */
  readonly wrongType: boolean;
}

type Issue = z.core.$ZodIssue;
type PathKey = PropertyKey;

/** Longest object key shown in a path; longer ones (client-chosen) are cut. */
const maxKeyChars = 40;
const plainKey = /^[A-Za-z_$][\w$-]*$/;

/** A key as it appears in a path: plain keys bare, others quoted, long ones cut (keys come from clients). */
function pathKey(key: PropertyKey): string {
  const s = String(key);
  const cut = s.length > maxKeyChars ? `${s.slice(0, maxKeyChars)}…` : s;
  return plainKey.test(s) ? cut : JSON.stringify(cut);
}

/** `["messages", 0, "content"]` → `messages[0].content`; odd keys quoted: `metadata["a b"]`. */
export function formatPath(path: readonly PathKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else if (plainKey.test(String(key))) out += out === "" ? pathKey(key) : `.${pathKey(key)}`;
    else out += `[${pathKey(key)}]`;
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

const items = (n: number) => `${n} item${n === 1 ? "" : "s"}`;

/** A short rendering of a received value; long strings and containers are summarised, never dumped. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return `an array of ${items(value.length)}`;
  if (typeof value === "object") return "an object";
  if (typeof value === "string") return value.length > 40 ? `a string of ${value.length} characters` : JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return typeof value;
}

/** A received value's JSON type: "a string", "a number", "an array of 3 items", "an object", "null". */
export function describeKind(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return `an array of ${items(value.length)}`;
  if (typeof value === "string") return value === "" ? "an empty string" : "a string";
  if (typeof value === "object") return "an object";
  if (typeof value === "number") return "a number";
  if (typeof value === "boolean") return "a boolean";
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
  tuple: "an array",
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

/** A union none of whose branches got past the type check: "expected an array or an object". */
function unionTypes(issue: Issue & { code: "invalid_union" }): string | undefined {
  const types = issue.errors.map((branch) => branch.find((i) => i.path.length === 0 && i.code === "invalid_type"));
  if (types.length === 0 || types.some((t) => t === undefined)) return undefined;
  const names = [...new Set(types.map((t) => typeName((t as Issue & { expected: string }).expected)))];
  return `expected ${names.length === 1 ? names[0] : `${names.slice(0, -1).join(", ")} or ${names.at(-1)}`}`;
}

/** A schema's own message ("expected a positive integer"), as opposed to zod's defaults ("Invalid input: …", "Too small: …"). */
const customExpectation = (message: string): string | undefined =>
  /^(Invalid|Too (small|big)|Unrecognized)\b/.test(message) ? undefined : message;

/** Unknown keys named in a message (clients choose them: at most this many, each cut). */
const maxKeysNamed = 5;

export function describeIssue(issue: Issue, input: unknown): IssueDescription {
  if (issue.code === "invalid_union") {
    const inner = deepestUnionIssue(issue);
    if (inner) return describeIssue(inner, input);
  }
  const received = valueAt(input, issue.path);
  const path = formatPath(issue.path);
  const got = received === undefined ? undefined : describeValue(received);
  const gotKind = received === undefined ? undefined : describeKind(received);
  const custom = customExpectation(issue.message);
  if (received === undefined && issue.code === "invalid_type") {
    return { path, expected: custom ?? `expected ${typeName(issue.expected)}`, got, gotKind, missing: true, wrongType: true };
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
    case "invalid_union":
      expected = unionTypes(issue) ?? "expected a different value";
      break;
    case "unrecognized_keys": {
      const named = issue.keys.slice(0, maxKeysNamed).map((k) => `'${pathKey(k).replace(/^"|"$/g, "")}'`);
      const more = issue.keys.length > maxKeysNamed ? ` and ${issue.keys.length - maxKeysNamed} more` : "";
      expected = `unknown field${issue.keys.length === 1 ? "" : "s"} ${named.join(", ")}${more} (check the spelling)`;
      return { path, expected, got: undefined, gotKind: undefined, missing: false, wrongType: false };
    }
    default:
      expected = issue.message;
  }
  return {
    path,
    expected: custom ?? expected,
    got,
    gotKind,
    missing: false,
    wrongType: issue.code === "invalid_type" || (issue.code === "invalid_union" && issue.errors.length > 0),
  };
}

export interface IssueLineOptions {
  /** How a field is named in the line (default: its path, `messages[0].content`). */
  readonly name?: (path: readonly PropertyKey[]) => string;
  /** The name of the whole value, when the issue is at the root (default "the value"; "" for none). */
  readonly root?: string;
}

/** Newlines (a schema's message, a client's key) would break the one line. */
const oneLine = (s: string): string => s.replace(/\s*[\r\n]+\s*/g, " ");

/** The path an issue will be reported at (a failed union reports at its meant branch). */
function reportedPath(issue: Issue): readonly PropertyKey[] {
  if (issue.code === "invalid_union") {
    const inner = deepestUnionIssue(issue);
    if (inner) return reportedPath(inner);
  }
  return issue.path;
}

/**
 * One issue as one line: `image: required (a base64 DICOM, NIfTI, PNG or JPEG file)`,
 * `row 0: expected an array of numbers, got a string`, `lang: expected one of "en", "zh", got "fr"`.
 */
export function issueLine(issue: Issue, input: unknown, options: IssueLineOptions = {}): string {
  const d = describeIssue(issue, input);
  const path = reportedPath(issue);
  const field = path.length === 0 ? (options.root ?? "the value") : options.name ? options.name(path) : d.path;
  const prefix = field === "" ? "" : `${field}: `;
  // An absent enum or union field is as missing as an absent string (zod reports it as a wrong value).
  const absent = d.got === undefined && d.expected.startsWith("expected") && issue.code !== "unrecognized_keys";
  if (d.missing || absent) return oneLine(`${prefix}required (${d.expected.replace(/^expected /, "")})`);
  const got = d.wrongType ? d.gotKind : d.got;
  return oneLine(`${prefix}${d.expected}${got === undefined ? "" : `, got ${got}`}`);
}

/** Issues named in one line at most; the rest are counted. */
const maxIssuesNamed = 3;

/**
 * The issues worth reporting: zod goes on checking a value of the wrong type (the length of an
 * object that has a `length` key), and those checks say nothing the type issue does not.
 */
function reportable(issues: readonly Issue[]): Issue[] {
  const wrongType = new Set(issues.filter((i) => i.code === "invalid_type").map((i) => formatPath(i.path)));
  return issues.filter((i) => i.code === "invalid_type" || !wrongType.has(formatPath(i.path)));
}

/** A failed parse as one line: its first issues joined by "; ", the rest counted. */
export function issueLines(error: z.ZodError, input: unknown, options: IssueLineOptions = {}): string {
  const issues = reportable(error.issues);
  const lines = issues.slice(0, maxIssuesNamed).map((issue) => issueLine(issue, input, options));
  const more = issues.length - lines.length;
  return `${lines.join("; ")}${more > 0 ? ` (and ${more} more)` : ""}`;
}

/** What safeParseInput gives: the parsed value, or the error to word with issueLines. */
export type ParsedInput<T> = { success: true; data: T } | { success: false; error: z.ZodError };

/**
 * `schema.safeParse(value)` that never throws. zod 4.6 runs a length check on any value with
 * a `length` key, even one of the wrong type, and comparing what JSON put there can throw
 * (`{"messages": {"length": [{"toString": 1, "valueOf": 1}]}}` gives a TypeError): a boundary
 * must answer that with a validation failure, not a crash or a 500.
 */
export function safeParseInput<S extends z.ZodType>(schema: S, value: unknown): ParsedInput<z.output<S>> {
  try {
    const r = schema.safeParse(value);
    return r.success ? { success: true, data: r.data } : { success: false, error: r.error };
  } catch (e) {
    if (!(e instanceof TypeError)) throw e;
    const issue: z.core.$ZodIssueCustom = {
      code: "custom",
      path: [],
      input: value,
      message: "expected the documented shape: an object stands where text or a list is expected",
    };
    return { success: false, error: new z.ZodError([issue]) };
  }
}
