// Symbolic dimensions. A dim is a non-negative integer or a polynomial with
// integer coefficients over named symbols ("batch", "s23", "batch*seq", "seq+1"),
// kept as its canonical string so that equal dims compare equal as strings.
// Polynomials are enough for what exporters emit (products for flattening,
// sums for concatenation); anything else becomes a fresh symbol.

import { TierflowError } from "./diagnostics.js";

/**
 * A tensor dimension: a non-negative integer, or a symbolic one kept as its canonical
 * polynomial string ("batch", "batch*seq", "seq+1"), so equal dims compare equal.
 */
export type Dim = number | string;

/** Monomial key ("" for the constant term, else sorted symbols joined by "*") -> coefficient. */
type Poly = Map<string, number>;

const IDENT = /^[A-Za-z_][A-Za-z0-9_.]*$/;

// Bounds that keep a hostile dim_param ("a*a*...", "((((a))))", "(a+b+c)*(a+b+c)*...")
// from costing time or stack: exporters emit a few short terms.
export const MAX_DIM_TEXT = 1024;
export const MAX_DIM_NESTING = 64;
export const MAX_DIM_TERMS = 256;
export const MAX_DIM_DEGREE = 64;

export function isSymbolName(text: string): boolean {
  return IDENT.test(text);
}

function constant(n: number): Poly {
  return n === 0 ? new Map() : new Map([["", n]]);
}

function checkedSafe(n: number, what: string): number {
  if (!Number.isSafeInteger(n)) throw new TierflowError(`dimension arithmetic overflows: ${what}`);
  return n;
}

// Canonical strings recur constantly (every tensor of a layer shares its dims),
// so parsed polynomials are cached. Cached maps are never mutated.
const parsed = new Map<string, Poly>();
const PARSE_CACHE_LIMIT = 50_000;

function toPoly(d: Dim): Poly {
  if (typeof d === "number") return constant(d);
  let p = parsed.get(d);
  if (p === undefined) {
    p = parseExpr(d);
    if (parsed.size >= PARSE_CACHE_LIMIT) parsed.clear();
    parsed.set(d, p);
  }
  return p;
}

function addInto(p: Poly, key: string, c: number): void {
  const v = checkedSafe((p.get(key) ?? 0) + c, "sum of dimensions");
  if (v === 0) p.delete(key);
  else p.set(key, v);
}

function polyAdd(a: Poly, b: Poly, sign: 1 | -1): Poly {
  const out = new Map(a);
  for (const [k, c] of b) addInto(out, k, sign * c);
  return out;
}

function mulKeys(a: string, b: string): string {
  if (a === "") return b;
  if (b === "") return a;
  const factors = [...a.split("*"), ...b.split("*")];
  if (factors.length > MAX_DIM_DEGREE) throw new TierflowError(`dimension arithmetic is too complex: a term of degree over ${MAX_DIM_DEGREE}`);
  return factors.sort().join("*");
}

function polyMul(a: Poly, b: Poly): Poly {
  const out: Poly = new Map();
  for (const [ka, ca] of a) {
    for (const [kb, cb] of b) addInto(out, mulKeys(ka, kb), checkedSafe(ca * cb, "product of dimensions"));
    if (out.size > MAX_DIM_TERMS) throw new TierflowError(`dimension arithmetic is too complex: over ${MAX_DIM_TERMS} terms`);
  }
  return out;
}

function fromPoly(p: Poly): Dim {
  if (p.size === 0) return 0;
  if (p.size === 1 && p.has("")) return p.get("")!;
  return printPoly(p);
}

function degree(key: string): number {
  return key === "" ? 0 : key.split("*").length;
}

function printPoly(p: Poly): string {
  const terms = [...p.entries()].sort(([ka], [kb]) => degree(kb) - degree(ka) || (ka < kb ? -1 : ka > kb ? 1 : 0));
  let out = "";
  for (const [key, coeff] of terms) {
    const mag = Math.abs(coeff);
    const body = key === "" ? String(mag) : mag === 1 ? key : `${mag}*${key}`;
    if (out === "") out = coeff < 0 ? `-${body}` : body;
    else out += coeff < 0 ? `-${body}` : `+${body}`;
  }
  return out;
}

// A small recursive-descent reader for the canonical form and for ONNX
// dim_param strings such as "s0*s1" or "2*s3 + 1".
function parseExpr(text: string): Poly {
  const tokens = text.match(/\s*([A-Za-z_][A-Za-z0-9_.]*|\d+|[-+*()])\s*/gy);
  if (!tokens || tokens.join("") !== text) throw new TierflowError(`not a dimension expression: '${text}'`);
  const toks = tokens.map((t) => t.trim());
  let i = 0, depth = 0;
  const peek = (): string | undefined => toks[i];
  const sum = (): Poly => {
    let p = product();
    for (let op = peek(); op === "+" || op === "-"; op = peek()) {
      i++;
      p = polyAdd(p, product(), op === "+" ? 1 : -1);
    }
    return p;
  };
  const product = (): Poly => {
    let p = factor();
    while (peek() === "*") {
      i++;
      p = polyMul(p, factor());
    }
    return p;
  };
  const factor = (): Poly => {
    const t = toks[i++];
    if (t === undefined) throw new TierflowError(`incomplete dimension expression: '${text}'`);
    if ((t === "-" || t === "(") && ++depth > MAX_DIM_NESTING) {
      throw new TierflowError(`dimension expression nests deeper than ${MAX_DIM_NESTING}: '${text.slice(0, 40)}...'`);
    }
    if (t === "-") {
      const p = polyMul(constant(-1), factor());
      depth--;
      return p;
    }
    if (t === "(") {
      const p = sum();
      if (toks[i++] !== ")") throw new TierflowError(`unbalanced parentheses in dimension '${text}'`);
      depth--;
      return p;
    }
    if (/^\d+$/.test(t)) return constant(checkedSafe(Number(t), t));
    if (IDENT.test(t)) return new Map([[t, 1]]);
    throw new TierflowError(`unexpected '${t}' in dimension expression '${text}'`);
  };
  const p = sum();
  if (i !== toks.length) throw new TierflowError(`unexpected '${toks[i]}' in dimension expression '${text}'`);
  return p;
}

/** Canonical form of a dimension written as text (an integer, a symbol or an expression). */
export function parseDim(text: string): Dim {
  // Text from outside only: canonical strings of computed dims are bounded by the terms and degree limits.
  if (text.length > MAX_DIM_TEXT) throw new TierflowError(`dimension expression of ${text.length} characters is longer than ${MAX_DIM_TEXT}`);
  return fromPoly(parseExpr(text));
}

// Results of symbolic arithmetic, keyed by operation and operands: shape
// inference applies the same few operations to the same dims many times.
const results = new Map<string, Dim>();

function memo(op: string, a: Dim, b: Dim, compute: () => Dim): Dim {
  const key = `${op}|${a}|${b}`;
  let r = results.get(key);
  if (r === undefined) {
    r = compute();
    if (results.size >= PARSE_CACHE_LIMIT) results.clear();
    results.set(key, r);
  }
  return r;
}

export function addDims(a: Dim, b: Dim): Dim {
  if (typeof a === "number" && typeof b === "number") return checkedSafe(a + b, `${a}+${b}`);
  return memo("+", a, b, () => fromPoly(polyAdd(toPoly(a), toPoly(b), 1)));
}

export function subDims(a: Dim, b: Dim): Dim {
  if (typeof a === "number" && typeof b === "number") return a - b;
  return memo("-", a, b, () => fromPoly(polyAdd(toPoly(a), toPoly(b), -1)));
}

export function mulDims(a: Dim, b: Dim): Dim {
  if (typeof a === "number" && typeof b === "number") return checkedSafe(a * b, `${a}*${b}`);
  if (a === 1) return b;
  if (b === 1) return a;
  return memo("*", a, b, () => fromPoly(polyMul(toPoly(a), toPoly(b))));
}

export function productOfDims(dims: readonly Dim[]): Dim {
  return dims.reduce<Dim>((acc, d) => mulDims(acc, d), 1);
}

/**
 * Exact division a / b, or undefined when it is not exact in polynomial terms
 * (for instance "batch*seq*64" / 64 = "batch*seq", but "seq" / 2 is not exact).
 */
export function divDimsExact(a: Dim, b: Dim): Dim | undefined {
  if (typeof b === "number") {
    if (b === 0) return undefined;
    if (typeof a === "number") return a % b === 0 ? a / b : undefined;
    const out: Poly = new Map();
    for (const [k, c] of toPoly(a)) {
      if (c % b !== 0) return undefined;
      out.set(k, c / b);
    }
    return fromPoly(out);
  }
  const divisor = toPoly(b);
  if (divisor.size !== 1) return equalDims(a, b) ? 1 : undefined;
  const [[dkey, dcoeff]] = [...divisor.entries()] as [[string, number]];
  const dsyms = dkey.split("*");
  const out: Poly = new Map();
  for (const [k, c] of toPoly(a)) {
    if (c % dcoeff !== 0) return undefined;
    const syms = k === "" ? [] : k.split("*");
    for (const s of dsyms) {
      const at = syms.indexOf(s);
      if (at < 0) return undefined;
      syms.splice(at, 1);
    }
    out.set(syms.join("*"), c / dcoeff);
  }
  return fromPoly(out);
}

export function equalDims(a: Dim, b: Dim): boolean {
  return a === b;
}

/** The symbols a dim mentions, sorted. */
export function dimSymbols(d: Dim): string[] {
  if (typeof d === "number") return [];
  const out = new Set<string>();
  for (const key of toPoly(d).keys()) for (const s of key.split("*")) if (s !== "") out.add(s);
  return [...out].sort();
}

/** Evaluate with the given symbol values; undefined if a symbol has none. */
export function evaluateDim(d: Dim, bindings: ReadonlyMap<string, number>): number | undefined {
  if (typeof d === "number") return d;
  let total = 0;
  for (const [key, coeff] of toPoly(d)) {
    let term = coeff;
    if (key !== "") {
      for (const s of key.split("*")) {
        const v = bindings.get(s);
        if (v === undefined) return undefined;
        term *= v;
      }
    }
    total += term;
  }
  return total;
}

/** Substitute some symbols, keeping the rest symbolic. */
export function substituteDim(d: Dim, bindings: ReadonlyMap<string, Dim>): Dim {
  if (typeof d === "number") return d;
  let out: Dim = 0;
  for (const [key, coeff] of toPoly(d)) {
    let term: Dim = coeff;
    if (key !== "") for (const s of key.split("*")) term = mulDims(term, bindings.get(s) ?? s);
    out = addDims(out, term);
  }
  return out;
}

/** Sums many dims without re-reading the running total each time (FLOP and byte counts). */
export class DimSum {
  private readonly poly: Poly = new Map();

  add(d: Dim): this {
    for (const [k, c] of toPoly(d)) addInto(this.poly, k, c);
    return this;
  }

  get value(): Dim {
    return fromPoly(this.poly);
  }
}
