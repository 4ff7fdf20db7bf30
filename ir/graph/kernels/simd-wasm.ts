// Float32 elementwise kernels as WebAssembly SIMD (four lanes), emitted from
// TypeScript with wasm-encode.ts; simd.ts runs them. Why: a JavaScript loop
// over Float32Array converts every element to float64 and back, and measured
// here about 4.5 ns an element for a Mul, against about 0.3 ns for copying an
// array in or out of WebAssembly memory and well under that for f32x4 arithmetic.
//
// Binary ops (Add, Sub, Mul, Div, Max, Min) compute exactly what JavaScript
// does: float32 +, -, *, / rounded once are the float64 results rounded to
// float32 (float64 has more than 2 * 24 + 2 bits), and f32x4.min/max treat
// NaN and -0 as Math.min/max do. So these change no answer.
//
// exp is an approximation, used where a result is float32 (Softmax):
// Cephes' expf (S. L. Moshier, Cephes Math Library, expf.c): x = n ln2 + r,
// |r| <= ln2/2, ln2 split so n * C1 is exact, exp(r) by a degree-7 polynomial;
// 2^n is applied in two halves so that results between 2^-149 and 2^-126
// (subnormals) round once, correctly. Max relative error about 1.5e-7 (test/kernels/simd.test.ts),
// against 6e-8 for float32 rounding itself. Inputs are clamped to [-104, 89]
// first: below, exp underflows to 0; above, it overflows to +Infinity; NaN passes through.
//
// All functions take byte addresses and counts; v128 loads and stores need no
// alignment. A row of n elements is done as ceil(n / 4) vectors, so up to 3
// elements past its end are read and written: callers pad their regions.

import type { Code, WasmFunction } from "./wasm-encode.js";
import { mathKernels } from "./simd-math-wasm.js";
import { normKernels } from "./simd-norm-wasm.js";
import {
  I32, V128, add, brIf, cat, eqz, f32DemoteF64, f32Load, f32Max, f32x4Add, f32x4Const, f32x4Div, f32x4ExtractLane,
  f32x4Max, f32x4Min, f32x4Mul, f32x4Pmax, f32x4Pmin, f32x4Splat, f32x4Eq, v128And, f32x4Sub, f64AddScalar, f64x2Add, f64x2ExtractLane,
  f64x2PromoteLowF32x4, get, i32, i32x4Add, i32x4Shl, i32x4ShrS, i32x4Sub, i8x16Shuffle, loop,
  moduleBytes, set, sub, tee, v128Load, v128Store, v128Zero, vectorLoop,
} from "./wasm-encode.js";

/** Bytes of the kernels' memory (fixed; pages are only resident once touched). */
export const SIMD_MEMORY_BYTES = 64 * 1024 * 1024;

const block = (...body: Code[]): Code => [0x02, 0x40, ...body.flat(), 0x0b];

export const SIMD_BINARY_OPS = { Add: f32x4Add, Sub: f32x4Sub, Mul: f32x4Mul, Div: f32x4Div, Max: f32x4Max, Min: f32x4Min } as const;
export type SimdBinaryOp = keyof typeof SIMD_BINARY_OPS;
/** Row shapes: both operands step along the row (vv), or one is repeated (vs: b, sv: a). */
export const SIMD_MODES = ["vv", "vs", "sv"] as const;
export type SimdMode = (typeof SIMD_MODES)[number];

/** Advance a byte-address local by `bytes`. */
const advance = (local: number, bytes = 16): Code => cat(get(local), i32(bytes), add, set(local));
const range = (k: number) => Array.from({ length: k }, (_, u) => u);
/** Vectors processed per loop iteration by the kernels with long dependency chains (exp, softmax). */
const UNROLL = 4;

/** name(a, b, o, n): o[i] = a[i] op b[i] over n float32s, with a or b repeated per mode. */
function binary(op: SimdBinaryOp, mode: SimdMode): WasmFunction {
  const [A, B, O, N] = [0, 1, 2, 3];
  const S = 4; // v128 local: the repeated operand
  const operand = (local: number, repeated: boolean): Code => (repeated ? get(S) : cat(get(local), v128Load(0)));
  const step = () => cat(
    get(O), operand(A, mode === "sv"), operand(B, mode === "vs"), SIMD_BINARY_OPS[op], v128Store(0),
    mode === "sv" ? [] : advance(A), mode === "vs" ? [] : advance(B), advance(O),
  );
  const splat = mode === "vv" ? [] : cat(get(mode === "vs" ? B : A), f32Load, f32x4Splat, set(S));
  return { name: `${op}_${mode}`, params: 4, locals: [[1, V128]], body: cat(splat, vectorLoop(N, step)) };
}

/**
 * Code computing exp(x + e) of the f32x4 in local X into X, where e is a tiny correction in
 * local E (when given: the rounding error of x, see softmaxRows); T is a scratch v128 local.
 * n = round(x / ln2) by adding 1.5 * 2^23 (exact for |x / ln2| < 2^22, which the clamp ensures):
 * the sum's low bits are n as an integer.
 */
function expInPlace(X: number, T: number, E?: number): Code {
  const poly = [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1];
  const horner: Code[] = [f32x4Const(poly[0]!)];
  for (const c of poly.slice(1)) horner.push(get(X), f32x4Mul, f32x4Const(c), f32x4Add);
  const scale = (half: Code): Code => cat(half, i32x4Const(127), i32x4Add, i32(23), i32x4Shl); // 2^half as float32 bits
  const MAGIC = 12582912;
  return cat(
    // pmin/pmax keep a NaN x (their first operand) as it is
    get(X), f32x4Const(89), f32x4Pmin, f32x4Const(-104), f32x4Pmax, set(X),
    get(X), f32x4Const(Math.LOG2E), f32x4Mul, f32x4Const(MAGIC), f32x4Add, set(T), // MAGIC + n
    // r = x - n * C1 - n * C2 (+ e): C1 has 9 significant bits, so n * C1 is exact
    get(X), get(T), f32x4Const(MAGIC), f32x4Sub, set(T), get(T), f32x4Const(0.693359375), f32x4Mul, f32x4Sub,
    get(T), f32x4Const(-2.12194440e-4), f32x4Mul, f32x4Sub, E === undefined ? [] : cat(get(E), f32x4Add), set(X),
    get(T), f32x4Const(MAGIC), f32x4Add, i32x4Const(0x4b400000), i32x4Sub, set(T), // n as int32
    // p = poly(r) * r^2 + r + 1, then * 2^(n >> 1) * 2^(n - (n >> 1))
    ...horner, get(X), get(X), f32x4Mul, f32x4Mul, get(X), f32x4Add, f32x4Const(1), f32x4Add,
    scale(cat(get(T), i32(1), i32x4ShrS)), f32x4Mul,
    scale(cat(get(T), get(T), i32(1), i32x4ShrS, i32x4Sub)), f32x4Mul,
    set(X),
  );
}
const i32x4Const = (v: number): Code => [0xfd, 0x0c, ...new Uint8Array(new Int32Array([v, v, v, v]).buffer)];

/** exp(src, dst, n): dst[i] = exp(src[i]) over n float32s. */
function expArray(): WasmFunction {
  const [SRC, DST, N] = [0, 1, 2];
  const X = (u: number) => 3 + 2 * u, T = (u: number) => 4 + 2 * u;
  const step = (k: number) => cat(
    ...range(k).map((u) => cat(get(SRC), v128Load(16 * u), set(X(u)), expInPlace(X(u), T(u)), get(DST), get(X(u)), v128Store(16 * u))),
    advance(SRC, 16 * k), advance(DST, 16 * k),
  );
  return { name: "exp", params: 3, locals: [[2 * UNROLL, V128]], body: vectorLoop(N, step, UNROLL) };
}

/**
 * softmax(p, rows, n): each of `rows` rows of n float32s at p (n a multiple of 4, padding
 * lanes -Infinity) becomes exp(x - max) / sum, in place. The max is the lanes' (NaN if any
 * is NaN, so a row with NaN becomes NaN); the sum is in float64, and the quotient float32.
 */
function softmaxRows(): WasmFunction {
  const [P, ROWS, N] = [0, 1, 2];
  const [Q, LEFT] = [3, 4]; // i32 locals
  const [M, S0, S1] = [5, 6, 7]; // v128 locals, then per unrolled vector u: X, T, V, E
  const X = (u: number) => 8 + 4 * u, T = (u: number) => 9 + 4 * u, V = (u: number) => 10 + 4 * u, E = (u: number) => 11 + 4 * u;
  const maxPass = (k: number) => cat(...range(k).map((u) => cat(get(M), get(Q), v128Load(16 * u), f32x4Pmax, set(M))), advance(Q, 16 * k)); // skips NaN, as a > comparison does
  const hmax = cat(
    get(M), f32x4ExtractLane(0), get(M), f32x4ExtractLane(1), f32Max, get(M), f32x4ExtractLane(2), get(M), f32x4ExtractLane(3), f32Max, f32Max,
    f32x4Splat, set(M), v128Zero, get(M), f32x4Sub, set(M), // M = -max
  );
  const high = i8x16Shuffle([8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15]);
  // The exps of an iteration's vectors are independent; their sums are added in element order.
  const expOf = (u: number) => cat(
    // x - max rounds in float32; its error E (2Sum, Knuth TAOCP 4.2.2; 0 where it is NaN) goes into exp's argument
    get(Q), v128Load(16 * u), tee(V(u)), get(M), f32x4Add, tee(X(u)), get(V(u)), f32x4Sub, set(T(u)),
    get(V(u)), get(X(u)), get(T(u)), f32x4Sub, f32x4Sub, get(M), get(T(u)), f32x4Sub, f32x4Add, tee(E(u)), get(E(u)), get(E(u)), f32x4Eq, v128And, set(E(u)),
    expInPlace(X(u), T(u), E(u)), get(Q), get(X(u)), v128Store(16 * u),
  );
  const sumOf = (u: number) => cat(
    get(S0), get(X(u)), f64x2PromoteLowF32x4, f64x2Add, set(S0),
    get(S1), get(X(u)), get(X(u)), high, f64x2PromoteLowF32x4, f64x2Add, set(S1),
  );
  const expPass = (k: number) => cat(...range(k).map(expOf), ...range(k).map(sumOf), advance(Q, 16 * k));
  const hsum = cat(
    get(S0), f64x2ExtractLane(0), get(S0), f64x2ExtractLane(1), f64AddScalar, get(S1), f64x2ExtractLane(0), get(S1), f64x2ExtractLane(1), f64AddScalar,
    f64AddScalar, f32DemoteF64, f32x4Splat, set(M),
  );
  const divPass = (k: number) => cat(...range(k).map((u) => cat(get(Q), get(Q), v128Load(16 * u), get(M), f32x4Div, v128Store(16 * u))), advance(Q, 16 * k));
  const row = cat(
    f32x4Const(-Infinity), set(M), get(P), set(Q), get(N), set(LEFT), vectorLoop(LEFT, maxPass, UNROLL), hmax,
    v128Zero, set(S0), v128Zero, set(S1), get(P), set(Q), get(N), set(LEFT), vectorLoop(LEFT, expPass, UNROLL), hsum,
    get(P), set(Q), get(N), set(LEFT), vectorLoop(LEFT, divPass, UNROLL),
    get(Q), set(P),
  );
  const body = block(get(ROWS), eqz, brIf(0), loop(row, get(ROWS), i32(1), sub, tee(ROWS), brIf(0)));
  return { name: "softmax", params: 3, locals: [[2, I32], [3 + 4 * UNROLL, V128]], body };
}

let functions: WasmFunction[] | undefined;
let names: string[] | undefined;
let bytes: Uint8Array | undefined;

function simdFunctions(): WasmFunction[] {
  functions ??= [
    ...Object.keys(SIMD_BINARY_OPS).flatMap((op) => SIMD_MODES.map((mode) => binary(op as SimdBinaryOp, mode))),
    expArray(), softmaxRows(), ...mathKernels(), ...normKernels(),
  ];
  return functions;
}

/** The names the module exports, in a fixed order (the worker pool's kernel table lists them after the GEMM's). */
export function simdKernelNames(): readonly string[] {
  names ??= simdFunctions().map((f) => f.name);
  return names;
}

/**
 * The module: `${op}_${mode}` for every binary op and mode, exp, softmax, sigmoid, tanh and erf
 * (simd-math-wasm.ts) and layernorm (simd-norm-wasm.ts); memory imported as env.mem.
 */
export function simdModuleBytes(): Uint8Array {
  bytes ??= moduleBytes(SIMD_MEMORY_BYTES / 65536, simdFunctions());
  return bytes;
}

