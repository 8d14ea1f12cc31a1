// Dimensions are numbers or symbols. A symbolic dimension is a product of named
// factors with an optional integer coefficient, written canonically: "B*T", "4*B".
// That is enough to reshape [B, T, C] -> [B*T, C] and back in graphs whose batch and
// sequence length are only known at run time (inference with a KV cache). A parenthesised
// sum such as "(P+T)" is one opaque factor.

export type Dim = number | string;
export type Shape = readonly Dim[];

interface Product {
  coeff: number;
  factors: string[]; // sorted names
}

function toProduct(d: Dim): Product {
  if (typeof d === "number") return { coeff: d, factors: [] };
  let coeff = 1;
  const factors: string[] = [];
  for (const part of d.split("*")) {
    const p = part.trim();
    if (/^\d+$/.test(p)) coeff *= Number(p);
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(p) || /^\([^()*]+\)$/.test(p)) factors.push(p);
    else throw new Error(`bad symbolic dimension "${d}": expected names and integers joined by "*", e.g. "B*T"`);
  }
  factors.sort();
  return { coeff, factors };
}

function fromProduct(p: Product): Dim {
  if (p.factors.length === 0) return p.coeff;
  return (p.coeff === 1 ? p.factors : [String(p.coeff), ...p.factors]).join("*");
}

export const normDim = (dim: Dim): Dim => fromProduct(toProduct(dim));
export const isStatic = (shape: Shape): shape is readonly number[] => shape.every((d) => typeof d === "number");
export const dimEq = (a: Dim, b: Dim): boolean => normDim(a) === normDim(b);
export const shapeEq = (a: Shape, b: Shape): boolean => a.length === b.length && a.every((d, i) => dimEq(d, b[i]));
export const showShape = (shape: Shape): string => `[${shape.join(", ")}]`;

export function dimMul(a: Dim, b: Dim): Dim {
  const pa = toProduct(a);
  const pb = toProduct(b);
  return fromProduct({ coeff: pa.coeff * pb.coeff, factors: [...pa.factors, ...pb.factors].sort() });
}

/**
 * a + b. Sums of symbols have no algebra here: "P" + "T" is the opaque symbol "(P+T)",
 * which a graph input can carry (e.g. an attention mask over past and new positions).
 */
export function dimAdd(a: Dim, b: Dim): Dim {
  if (typeof a === "number" && typeof b === "number") return a + b;
  if (a === 0) return normDim(b);
  if (b === 0) return normDim(a);
  return `(${normDim(a)}+${normDim(b)})`;
}

/** a / b, or undefined when b does not divide a exactly. */
export function dimDiv(a: Dim, b: Dim): Dim | undefined {
  const pa = toProduct(a);
  const pb = toProduct(b);
  if (pb.coeff === 0 || pa.coeff % pb.coeff !== 0) return undefined;
  const rest = [...pa.factors];
  for (const f of pb.factors) {
    const i = rest.indexOf(f);
    if (i < 0) return undefined;
    rest.splice(i, 1);
  }
  return fromProduct({ coeff: pa.coeff / pb.coeff, factors: rest });
}

export const numel = (shape: Shape): Dim => shape.reduce<Dim>((n, d) => dimMul(n, d), 1);

/** Symbol names a dimension depends on ("B*T" -> ["B", "T"]). */
export const dimSymbols = (dim: Dim): string[] => toProduct(dim).factors;
/** The integer coefficient of a dimension ("4*B" -> 4, 7 -> 7). */
export const dimCoeff = (dim: Dim): number => toProduct(dim).coeff;

/** Numpy-style broadcasting of two shapes; throws with both shapes on mismatch. */
export function broadcastShapes(a: Shape, b: Shape, what: string): Dim[] {
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const da = i < n - a.length ? 1 : a[i - (n - a.length)];
    const db = i < n - b.length ? 1 : b[i - (n - b.length)];
    if (dimEq(da, db) || db === 1) out.push(normDim(da));
    else if (da === 1) out.push(normDim(db));
    else throw new Error(`${what}: shapes ${showShape(a)} and ${showShape(b)} do not broadcast (axis ${i}: ${da} vs ${db})`);
  }
  return out;
}

/** Resolve a possibly negative axis against a rank, with a clear error. */
export function normAxis(axis: number, rank: number, what: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw new Error(`${what}: axis ${axis} is out of range for rank ${rank}`);
  return a;
}
