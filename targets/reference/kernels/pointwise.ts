// Specialised elementwise kernels: a table of ops, each compiled into its own
// loops, driven over broadcast shapes without per-element index arrays.
//
// Broadcasting: the output's axes of size 1 are dropped and adjacent axes that
// every operand walks the same way (all contiguous, or all repeated) are merged
// (strided.ts), so a bias add, a per-channel scale, a scalar or a leading-dims
// broadcast ends up as rows of one contiguous run, each operand advancing by 1
// or 0 along it, with a loop nest over the (few) outer axes around the rows.
//
// Float32 Add, Sub, Mul, Div, Max and Min of 1024 elements or more run as
// WebAssembly SIMD (simd.ts), with the same results.
//
// Rows are unrolled by four: a loop iteration costs more here than a move, a
// comparison or a logic op. Some ops read 32-bit words rather than elements,
// with the same results: int64 comparisons (no BigInt per element; a mask
// built from a row and a column compares Int32 values when all fit), And, Or
// and Xor of bool (four elements a word) and Where of 4-byte elements (a
// masked choice of words, no branch on the condition). Comparisons give
// +(x < y), without a branch that mask data would mispredict.
//
// Why code generation: a kernel that takes the op as a closure calls it per
// element through a call site shared by every op, which V8 cannot inline
// (5-40 ns an element). Each op here gets its own function, compiled with
// `new Function` from the loop template and the op's expression, and one per
// combination of storage types (Float32Array, BigInt64Array, Uint8Array...), so
// every call site and element access in a loop sees one shape and the
// arithmetic is inlined. Functions are compiled on first use and cached; the
// sources are fixed strings from the tables below, never from model data.

import type { DType } from "../../../ir/dtype.js";
import { fail } from "../../../ir/diagnostics.js";
import type { Tensor, TensorData } from "../../../ir/tensor.js";
import { broadcastDims } from "./broadcast.js";
import { broadcastStrides, collapseStrides, contiguousStrides, stridedLoopSource } from "./strided.js";
import type { StridedPlan } from "./strided.js";
import { binaryF32, isSimdBinaryOp, unaryF32 } from "./simd.js";
import type { SimdUnaryOp } from "./simd.js";
import { erf, fastExp, fastTanh, laneErf, laneSigmoid, laneTanh, sigmoid } from "./math.js";
import { allocateOverwritten } from "./buffers.js";

/** Helpers the op expressions may call (passed to each compiled function, so calls to them inline). */
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const HELPERS = {
  erf,
  sigmoid,
  fastExp,
  fastTanh,
  laneErf,
  laneSigmoid,
  laneTanh,
  SQRT_2_OVER_PI,
  powBig,
  nonzeroBytes,
};
const HELPER_NAMES = Object.keys(HELPERS);
const HELPER_VALUES = Object.values(HELPERS);

/** Each byte of a 32-bit word as 1 if nonzero, else 0 (bit 7 of each byte is set by the add or by the byte itself). */
export function nonzeroBytes(w: number): number {
  return (((((w & 0x7f7f7f7f) + 0x7f7f7f7f) | w) >>> 7) & 0x01010101);
}

/** a ** b wrapped to 64 bits (by squaring, so huge exponents stay cheap); negative b truncates 1/a^|b| toward zero. */
export function powBig(a: bigint, b: bigint): bigint {
  if (b < 0n) return a === 1n ? 1n : a === -1n ? (b % 2n === 0n ? 1n : -1n) : 0n;
  let r = 1n, x = a;
  for (let e = b; e > 0n; e >>= 1n) {
    if (e & 1n) r = BigInt.asIntN(64, r * x);
    x = BigInt.asIntN(64, x * x);
  }
  return r;
}

/**
 * A binary op in terms of x and y: `num` on number storage, `big` on int64/uint64
 * (absent: the op is not defined there). Comparisons and logic give 0/1 (their output is bool).
 */
interface BinarySpec {
  readonly num: string;
  /** For results stored as float32, when it differs from num (see UnarySpec). */
  readonly f32?: string;
  readonly big?: string;
}

const cmp = (op: string): BinarySpec => ({ num: `+(x ${op} y)`, big: `x ${op} y ? 1 : 0` });

export const BINARY_OPS = {
  Add: { num: "x + y", big: "x + y" },
  Sub: { num: "x - y", big: "x - y" },
  Mul: { num: "x * y", big: "x * y" },
  // Integer storage truncates the quotient on store, and x / 0 (+-Infinity or NaN) stores as 0.
  Div: { num: "x / y", big: "y === 0n ? 0n : x / y" },
  // Math.max/min give NaN when either operand is NaN.
  Max: { num: "Math.max(x, y)", big: "x > y ? x : y" },
  Min: { num: "Math.min(x, y)", big: "x < y ? x : y" },
  Pow: { num: "x ** y", big: "powBig(x, y)" },
  Equal: cmp("==="),
  Less: cmp("<"),
  LessOrEqual: cmp("<="),
  Greater: cmp(">"),
  GreaterOrEqual: cmp(">="),
  And: { num: "x !== 0 && y !== 0 ? 1 : 0" },
  Or: { num: "x !== 0 || y !== 0 ? 1 : 0" },
  Xor: { num: "(x !== 0) !== (y !== 0) ? 1 : 0" },
  // SwiGLU(gate, up) = Mul(Mul(gate, Sigmoid(gate)), up), each step rounded to float32 as the decomposition's are.
  SwiGLU: { num: "x * sigmoid(x) * y", f32: "Math.fround(x * Math.fround(laneSigmoid(x))) * y" },
} satisfies Record<string, BinarySpec>;

export type BinaryOpName = keyof typeof BINARY_OPS;

/**
 * A unary op in terms of v; p and q are per-call parameters (HardSigmoid's alpha
 * and beta, Clip's bounds). `f32`, when given, is used for results stored as
 * float32 (f32, f16, bf16): the fast exp/tanh/sigmoid of math.ts.
 */
interface UnarySpec {
  readonly num: string;
  readonly f32?: string;
  readonly big?: string;
}

export const UNARY_OPS = {
  Sqrt: { num: "Math.sqrt(v)" },
  Reciprocal: { num: "1 / v" },
  Exp: { num: "Math.exp(v)", f32: "fastExp(v)" },
  Log: { num: "Math.log(v)" },
  // Float32 Erf, Tanh and Sigmoid: math.ts's lane functions, which the SIMD kernels repeat bit for bit.
  Erf: { num: "erf(v)", f32: "laneErf(v)" },
  Tanh: { num: "Math.tanh(v)", f32: "laneTanh(v)" },
  Sigmoid: { num: "sigmoid(v)", f32: "laneSigmoid(v)" },
  Sin: { num: "Math.sin(v)" },
  Cos: { num: "Math.cos(v)" },
  Floor: { num: "Math.floor(v)" },
  Ceil: { num: "Math.ceil(v)" },
  // -0 becomes 0; NaN stays NaN.
  Relu: { num: "v > 0 ? v : v !== v ? v : 0", big: "v > 0n ? v : 0n" },
  Neg: { num: "-v", big: "-v" },
  Abs: { num: "Math.abs(v)", big: "v < 0n ? -v : v" },
  Not: { num: "v ? 0 : 1" },
  HardSigmoid: { num: "Math.max(0, Math.min(1, p * v + q))" },
  HardSwish: { num: "v * Math.max(0, Math.min(1, v / 6 + 0.5))" },
  Gelu: { num: "0.5 * v * (1 + erf(v / Math.SQRT2))" },
  // SiLU(x) = Mul(x, Sigmoid(x)); in float32 the sigmoid is rounded first, as the decomposition stores it.
  SiLU: { num: "v * sigmoid(v)", f32: "v * Math.fround(laneSigmoid(v))" },
  GeluTanh: {
    num: "0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v)))",
    f32: "0.5 * v * (1 + fastTanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v)))",
  },
  // Clip: max(v, p) then min(., q), so p > q gives q; NaN stays NaN. p, q may be -+Infinity for int64 too.
  Clip: { num: "(v < p ? p : v) > q ? q : (v < p ? p : v)", big: "(v < p ? p : v) > q ? q : (v < p ? p : v)" },
  // Pow by a scalar 2 or 3 on float storage, as onnxruntime does: for float32 values x * x is exact
  // in float64 and x * x * x correctly rounded, so they round to float32 as x ** 2 and x ** 3 do.
  Square: { num: "v * v" },
  Cube: { num: "v * v * v" },
} satisfies Record<string, UnarySpec>;

export type UnaryOpName = keyof typeof UNARY_OPS;

type StridedLoop = (ext: readonly number[], n: number, ...views: unknown[]) => void;
type UnaryLoop = (x: TensorData, o: TensorData, n: number, p: number | bigint, q: number | bigint) => void;

function compile<T>(source: string): T {
  return (new Function(...HELPER_NAMES, source) as (...h: unknown[]) => T)(...HELPER_VALUES);
}

/** Code declaring operand `name` (x or y) from `data` at element `index`. */
type Load = (name: string, data: string, index: string) => string;
const loadNumber: Load = (name, data, index) => `const ${name} = ${data}[${index}];`;
// An int64 as two 32-bit words (little-endian: low word first), high signed for int64, both unsigned for uint64.
const loadWords: Load = (name, data, index) => `const ${name}h = ${data}[2 * (${index}) + 1], ${name}l = ${data}[2 * (${index})] >>> 0;`;

/**
 * `body(j)` for j = 0 .. n - 1, four at a time: a loop iteration here costs more than a comparison,
 * a logic op or a move (one at a time, 3 to 4 ns an element; four at a time, 1.5 to 2).
 */
function unrolled(body: (j: string) => string): string {
  const four = [0, 1, 2, 3].map((u) => `{ ${body(`j + ${u}`)} }`).join(" ");
  return `let j = 0;
          for (const e = n - 3; j < e; j += 4) { ${four} }
          for (; j < n; j++) { ${body("j")} }`;
}

/** One row of a binary op: o[oi + j] = f(a[ai + j * sa], b[bi + j * sb]), steps 0 or 1 (the output is contiguous). */
function binaryRowSource(expr: string, load: Load): string {
  const x = (i: string) => load("x", "a", i), y = (i: string) => load("y", "b", i);
  return `
        if (sa === 1 && sb === 1) {
          ${unrolled((j) => `${x(`ai + ${j}`)} ${y(`bi + ${j}`)} o[oi + ${j}] = ${expr};`)}
        } else if (sa === 1 && sb === 0) {
          ${y("bi")}
          ${unrolled((j) => `${x(`ai + ${j}`)} o[oi + ${j}] = ${expr};`)}
        } else if (sa === 0 && sb === 1) {
          ${x("ai")}
          ${unrolled((j) => `${y(`bi + ${j}`)} o[oi + ${j}] = ${expr};`)}
        } else {
          for (let j = 0; j < n; j++) { ${x("ai + j * sa")} ${y("bi + j * sb")} o[oi + j] = ${expr}; }
        }`;
}

/**
 * Comparisons of int64/uint64 on their 32-bit words (high words first, then the unsigned
 * low words), exact and without reading each element as a BigInt (which allocates). Written
 * without branches (| and & of booleans give 0 or 1): mask data mispredicts them.
 */
const WORD_COMPARISONS: Partial<Record<BinaryOpName, string>> = {
  Equal: "((xh ^ yh) | (xl ^ yl)) === 0 ? 1 : 0",
  Less: "(xh < yh) | ((xh === yh) & (xl < yl))",
  LessOrEqual: "(xh < yh) | ((xh === yh) & (xl <= yl))",
  Greater: "(xh > yh) | ((xh === yh) & (xl > yl))",
  GreaterOrEqual: "(xh > yh) | ((xh === yh) & (xl >= yl))",
};

/** And, Or and Xor of bool on 32-bit words, four elements each (see boolWords). */
const WORD_LOGIC: Partial<Record<BinaryOpName, string>> = {
  And: "nonzeroBytes(x) & nonzeroBytes(y)",
  Or: "nonzeroBytes(x) | nonzeroBytes(y)",
  Xor: "nonzeroBytes(x) ^ nonzeroBytes(y)",
};

/** A StridedPlan's views rewritten over other storage: the data, strides and steps of each, and the row length. */
interface WordViews {
  readonly data: readonly TensorData[];
  readonly strides: readonly (readonly number[])[];
  readonly steps: readonly number[];
  readonly n: number;
}

/**
 * The bool views of `plan` as 32-bit words, four elements a word, when every row that steps
 * through a view starts on a word: such a view becomes words over its bytes (strides / 4), and a
 * view that repeats along the row a word per element holding its byte four times (strides kept).
 * Null when the layout does not allow it.
 */
function boolWords(plan: StridedPlan, views: readonly Uint8Array[]): WordViews | null {
  const { n, steps, strides } = plan;
  if (n % 4 !== 0) return null;
  const stepping = (k: number) => steps[k] === 1;
  for (let k = 0; k < views.length; k++) {
    if (steps[k] !== 0 && steps[k] !== 1) return null;
    if (stepping(k) && (views[k]!.byteOffset % 4 !== 0 || strides[k]!.some((st) => st % 4 !== 0))) return null;
  }
  return {
    data: views.map((d, k) => (stepping(k) ? new Int32Array(d.buffer, d.byteOffset, Math.floor(d.length / 4)) : Int32Array.from(d, (v) => v * 0x01010101))),
    strides: strides.map((st, k) => (stepping(k) ? st.map((x) => x / 4) : st)),
    steps,
    n: n / 4,
  };
}
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * int64 values as an Int32Array when every one fits in 32 bits (its high word is its low word's
 * sign), else null; read through the words, so no BigInt is allocated.
 */
function int32Values(d: BigInt64Array): Int32Array | null {
  const w = new Int32Array(d.buffer, d.byteOffset, 2 * d.length), out = new Int32Array(d.length);
  for (let i = 0; i < d.length; i++) {
    const low = w[2 * i]!;
    if (w[2 * i + 1] !== low >> 31) return null;
    out[i] = low;
  }
  return out;
}

/**
 * A broadcast int64 comparison's operands as Int32Array values, when both fit: one load an
 * element rather than two words. Narrowing reads each operand once, so it pays where the output
 * is several times larger than the operands (masks built from a row and a column).
 */
function narrowedComparison(op: BinaryOpName, a: TensorData, b: TensorData, outLength: number): [Int32Array, Int32Array] | null {
  if (WORD_COMPARISONS[op] === undefined || !(a instanceof BigInt64Array) || !(b instanceof BigInt64Array)) return null;
  if (outLength < 4 * (a.length + b.length)) return null;
  const x = int32Values(a), y = x && int32Values(b);
  return x && y ? [x, y] : null;
}

/** The same memory as Int32Array elements (for data of 4-byte elements). */
const int32Words = (d: TensorData): Int32Array => (d instanceof Int32Array ? d : new Int32Array(d.buffer, d.byteOffset, d.byteLength / 4));

/** The 32-bit words of int64 data (Int32Array: the high word keeps the sign) or uint64 data (Uint32Array). */
function wordsOf(d: BigInt64Array | BigUint64Array): Int32Array | Uint32Array {
  return d instanceof BigInt64Array ? new Int32Array(d.buffer, d.byteOffset, 2 * d.length) : new Uint32Array(d.buffer, d.byteOffset, 2 * d.length);
}

/**
 * One row of Where. `words`: x, y and o are 32-bit words and c bytes, so a choice between two
 * repeated values is a mask (v ^ ((u ^ v) & -1 or 0)), without the branch that mask data mispredicts.
 */
const whereRowSource = (words: boolean) => `
        if (sc === 0) {
          if (c[ci]) { if (sx === 1) o.set(x.subarray(xi, xi + n), oi); else o.fill(x[xi], oi, oi + n); }
          else if (sy === 1) o.set(y.subarray(yi, yi + n), oi); else o.fill(y[yi], oi, oi + n);
        } else if (sx === 0 && sy === 0) {
          const u = x[xi], v = y[yi];
          ${words ? `const uv = u ^ v;
          ${unrolled((j) => `o[oi + ${j}] = v ^ (uv & -(c[ci + ${j}] !== 0));`)}`
    : "for (let j = 0; j < n; j++) o[oi + j] = c[ci + j] ? u : v;"}
        } else {
          for (let j = 0; j < n; j++) o[oi + j] = c[ci + j] ? x[xi + j * sx] : y[yi + j * sy];
        }`;

/** Below this many elements the JavaScript loop is as fast as copying into WebAssembly and back. */
const SIMD_MIN_ELEMENTS = 1024;

const storageName = (d: TensorData): string => d.constructor.name;
const isBig = (d: TensorData): d is BigInt64Array | BigUint64Array => d instanceof BigInt64Array || d instanceof BigUint64Array;

const binaryCache = new Map<string, StridedLoop>();
const unaryCache = new Map<string, UnaryLoop>();
const whereCache = new Map<string, StridedLoop>();

/** How a binary loop reads its operands: as stored, int64 as pairs of words (WORD_COMPARISONS), or bool words (WORD_LOGIC). */
type Operands = "elements" | "int64Words" | "boolWords";

function binaryLoop(op: BinaryOpName, a: TensorData, b: TensorData, o: TensorData, what: DType, operands: Operands): StridedLoop {
  const key = `${op}|${storageName(a)}|${storageName(b)}|${storageName(o)}|${operands}`;
  let loop = binaryCache.get(key);
  if (!loop) {
    const spec: BinarySpec = BINARY_OPS[op];
    const big = isBig(a) || isBig(b);
    if (big && isBig(a) !== isBig(b)) fail(`${op} cannot mix int64 and other storage`);
    const words = operands === "int64Words";
    const expr = words ? WORD_COMPARISONS[op] : operands === "boolWords" ? WORD_LOGIC[op]
      : big ? spec.big : o instanceof Float32Array ? spec.f32 ?? spec.num : spec.num;
    if (expr === undefined) fail(`operation is not defined for ${what}`);
    loop = compile<StridedLoop>(stridedLoopSource(op, ["a", "b", "o"], binaryRowSource(expr, words ? loadWords : loadNumber)));
    binaryCache.set(key, loop);
  }
  return loop;
}

/** out = op(a, b) with numpy broadcasting, in outDType (bool for comparisons and logic). */
export function binaryOp(op: BinaryOpName, a: Tensor, b: Tensor, outDType: DType): Tensor {
  const dims = broadcastDims(a.dims, b.dims);
  const out = allocateOverwritten(outDType, dims);
  if (out.data.length === 0) return out;
  const plan = collapseStrides(dims, [broadcastStrides(a.dims, dims), broadcastStrides(b.dims, dims), contiguousStrides(dims)]);
  if (out.data.length >= SIMD_MIN_ELEMENTS && outDType === "f32" && a.dtype === "f32" && b.dtype === "f32" && isSimdBinaryOp(op) &&
    binaryF32(op, plan, a.data as Float32Array, b.data as Float32Array, out.data as Float32Array)) return out;
  const logic = WORD_LOGIC[op] !== undefined && a.data instanceof Uint8Array && b.data instanceof Uint8Array && out.data instanceof Uint8Array
    ? boolWords(plan, [a.data, b.data, out.data]) : null;
  const v: WordViews = logic ?? { data: [a.data, b.data, out.data], strides: plan.strides, steps: plan.steps, n: plan.n };
  let [ad, bd] = narrowedComparison(op, a.data, b.data, out.data.length) ?? v.data as [TensorData, TensorData];
  const words = LITTLE_ENDIAN && WORD_COMPARISONS[op] !== undefined && isBig(ad) && isBig(bd) && ad.constructor === bd.constructor;
  if (words) {
    ad = wordsOf(ad as BigInt64Array);
    bd = wordsOf(bd as BigInt64Array);
  }
  const od = v.data[2]!, [sa, sb, so] = v.steps as [number, number, number], [as, bs, os] = v.strides;
  const operands: Operands = logic ? "boolWords" : words ? "int64Words" : "elements";
  binaryLoop(op, ad, bd, od, a.dtype, operands)(plan.outer, v.n, ad, 0, as, sa, bd, 0, bs, sb, od, 0, os, so);
  return out;
}

/** out = op(x) elementwise, in outDType; p and q are the op's parameters (see UNARY_OPS). */
/** Unary ops with a float32 SIMD kernel (simd-math-wasm.ts), used from this many elements; below, the same bits in JavaScript. */
const SIMD_UNARY: Partial<Record<UnaryOpName, SimdUnaryOp>> = {
  Sigmoid: "sigmoid", Tanh: "tanh", Erf: "erf", HardSwish: "hardswish", HardSigmoid: "hardsigmoid", Relu: "relu",
};
const SIMD_UNARY_MIN = 256;

export function unaryOp(op: UnaryOpName, x: Tensor, outDType: DType = x.dtype, p: number | bigint = 0, q: number | bigint = 0): Tensor {
  const out = allocateOverwritten(outDType, x.dims);
  const xd = x.data, od = out.data;
  const simd = SIMD_UNARY[op];
  if (simd && xd instanceof Float32Array && od instanceof Float32Array && xd.length >= SIMD_UNARY_MIN && unaryF32(simd, xd, od, Number(p), Number(q))) return out;
  const key = `${op}|${storageName(xd)}|${storageName(od)}`;
  let loop = unaryCache.get(key);
  if (!loop) {
    const spec: UnarySpec = UNARY_OPS[op];
    const expr = isBig(xd) ? spec.big : od instanceof Float32Array ? spec.f32 ?? spec.num : spec.num;
    if (expr === undefined) fail(`operation is not defined for ${x.dtype}`);
    loop = compile<UnaryLoop>(`"use strict";
return function ${op}(x, o, n, p, q) {
  ${unrolled((j) => `const v = x[${j}]; o[${j}] = ${expr};`)}
};`);
    unaryCache.set(key, loop);
  }
  loop(xd, od, xd.length, p, q);
  return out;
}

/** Where(cond, x, y): x where cond else y, with broadcasting; x's dtype. */
export function whereOp(cond: Tensor, x: Tensor, y: Tensor): Tensor {
  const dims = broadcastDims(broadcastDims(cond.dims, x.dims), y.dims);
  const out = allocateOverwritten(x.dtype, dims);
  if (out.data.length === 0) return out;
  const cd = cond.data;
  let xd = x.data, yd = y.data, od = out.data;
  // Elements of 4 bytes move as Int32 words: the same bits, and the row can select with a mask.
  const words = cd instanceof Uint8Array && od.BYTES_PER_ELEMENT === 4 && xd.constructor === od.constructor && yd.constructor === od.constructor;
  if (words) [xd, yd, od] = [xd, yd, od].map(int32Words) as [Int32Array, Int32Array, Int32Array];
  const key = `${storageName(cd)}|${storageName(xd)}|${storageName(yd)}|${storageName(od)}`;
  let loop = whereCache.get(key);
  if (!loop) {
    loop = compile<StridedLoop>(stridedLoopSource("Where", ["c", "x", "y", "o"], whereRowSource(words)));
    whereCache.set(key, loop);
  }
  const plan = collapseStrides(dims,
    [broadcastStrides(cond.dims, dims), broadcastStrides(x.dims, dims), broadcastStrides(y.dims, dims), contiguousStrides(dims)]);
  const [sc, sx, sy, so] = plan.steps as [number, number, number, number];
  const [cs, xs, ys, os] = plan.strides;
  loop(plan.outer, plan.n, cd, 0, cs, sc, xd, 0, xs, sx, yd, 0, ys, sy, od, 0, os, so);
  return out;
}
