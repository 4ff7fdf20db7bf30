// Float32 exp and Softmax as WebAssembly SIMD, for simd-wasm.ts's module; the
// fused attention kernel (attention-wasm.ts) normalises its score rows with
// the same row code (softmaxRowCode), so both give the same bits.
//
// exp is an approximation, used where a result is float32 (Softmax):
// Cephes' expf (S. L. Moshier, Cephes Math Library, expf.c): x = n ln2 + r,
// |r| <= ln2/2, ln2 split so n * C1 is exact, exp(r) by a degree-7 polynomial;
// 2^n is applied in two halves so that results between 2^-149 and 2^-126
// (subnormals) round once, correctly. Max relative error about 1.5e-7 (test/kernels/simd.test.ts),
// against 6e-8 for float32 rounding itself. Inputs are clamped to [-104, 89]
// first: below, exp underflows to 0; above, it overflows to +Infinity; NaN passes through.

import type { Code, WasmFunction } from "./wasm-encode.js";
import {
  I32, V128, add, brIf, cat, eqz, ifElse, f32DemoteF64, f32Max, f32x4Add, f32x4Const, f32x4Div, f32x4ExtractLane,
  f32x4Mul, f32x4Pmax, f32x4Pmin, f32x4Splat, f32x4Eq, v128And, f32x4Sub, f64AddScalar, f64x2Add, f64x2ExtractLane,
  f64x2PromoteLowF32x4, get, i32, i32x4Add, i32x4Shl, i32x4ShrS, i32x4Sub, i8x16Shuffle, loop,
  set, sub, tee, v128Load, v128Store, v128Zero, vectorLoop,
} from "./wasm-encode.js";

const block = (...body: Code[]): Code => [0x02, 0x40, ...body.flat(), 0x0b];
/** Advance a byte-address local by `bytes`. */
export const advance = (local: number, bytes = 16): Code => cat(get(local), i32(bytes), add, set(local));
export const range = (k: number) => Array.from({ length: k }, (_, u) => u);
/** Vectors processed per loop iteration by the kernels with long dependency chains (exp, softmax). */
export const UNROLL = 4;
const f32x4Lt: Code = [0xfd, 0x43], f32x4Gt: Code = [0xfd, 0x44], i32x4AllTrue: Code = [0xfd, 0xa3, 0x01];
const i32x4Const = (v: number): Code => [0xfd, 0x0c, ...new Uint8Array(new Int32Array([v, v, v, v]).buffer)];

/**
 * Code computing exp(x + e) of the f32x4 in local X into X, where e is a tiny correction in
 * local E (when given: the rounding error of x, see softmaxRowCode); T is a scratch v128 local.
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

/** Locals a softmax row uses: i32 p (the row's address), n (its length), q, left; v128 from `v` on. */
export interface SoftmaxLocals {
  readonly p: number;
  readonly n: number;
  readonly q: number;
  readonly left: number;
  readonly v: number;
}
/** v128 locals softmaxRowCode needs from SoftmaxLocals.v on. */
export const SOFTMAX_V128_LOCALS = 3 + 4 * UNROLL;

/**
 * Code normalising one row of n float32s at p (n a multiple of 4, padding lanes -Infinity)
 * in place: exp(x - max) / sum. The max is the lanes' (NaN if any is NaN, so a row with NaN
 * becomes NaN); the sum is in float64, and the quotient float32. `prepare(u)`, when given,
 * runs first in the max pass for vector u (at q + 16u): it must leave that vector's final
 * value, which the max pass stores back (attention's scale and mask), and `prepareAdvance(k)`
 * moves its own pointers on by k vectors.
 */
export function softmaxRowCode(L: SoftmaxLocals, prepare?: (u: number) => Code, prepareAdvance?: (k: number) => Code): Code {
  const { p: P, n: N, q: Q, left: LEFT } = L;
  const [M, S0, S1] = [L.v, L.v + 1, L.v + 2];
  const X = (u: number) => L.v + 3 + 4 * u, T = (u: number) => L.v + 4 + 4 * u, V = (u: number) => L.v + 5 + 4 * u, E = (u: number) => L.v + 6 + 4 * u;
  const maxPass = prepare
    ? (k: number) => cat(...range(k).map((u) => cat(get(Q), prepare(u), tee(X(u)), v128Store(16 * u), get(M), get(X(u)), f32x4Pmax, set(M))), advance(Q, 16 * k), prepareAdvance!(k))
    : (k: number) => cat(...range(k).map((u) => cat(get(M), get(Q), v128Load(16 * u), f32x4Pmax, set(M))), advance(Q, 16 * k)); // skips NaN, as a > comparison does
  const hmax = cat(
    get(M), f32x4ExtractLane(0), get(M), f32x4ExtractLane(1), f32Max, get(M), f32x4ExtractLane(2), get(M), f32x4ExtractLane(3), f32Max, f32Max,
    f32x4Splat, set(M), v128Zero, get(M), f32x4Sub, set(M), // M = -max
  );
  const high = i8x16Shuffle([8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15]);
  // The exps of an iteration's vectors are independent; their sums are added in element order.
  const expOf = (u: number) => cat(
    get(Q), v128Load(16 * u), tee(V(u)), get(M), f32x4Add, tee(X(u)),
    // Four masked scores (x - max below -105, where exp is 0 to the last bit) skip the arithmetic:
    // a causal mask's rows are half that.
    f32x4Const(-105), f32x4Lt, i32x4AllTrue,
    ifElse(cat(v128Zero, set(X(u))), cat(
      // x - max rounds in float32; its error E (2Sum, Knuth TAOCP 4.2.2) goes into exp's argument, except
      // where it is NaN or x - max is below exp's clamp (there E is as large as max, not a rounding error)
      get(X(u)), get(V(u)), f32x4Sub, set(T(u)),
      get(V(u)), get(X(u)), get(T(u)), f32x4Sub, f32x4Sub, get(M), get(T(u)), f32x4Sub, f32x4Add, tee(E(u)), get(E(u)), get(E(u)), f32x4Eq, v128And,
      get(X(u)), f32x4Const(-104), f32x4Gt, v128And, set(E(u)),
      expInPlace(X(u), T(u), E(u)),
    )),
    get(Q), get(X(u)), v128Store(16 * u),
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
  return cat(
    f32x4Const(-Infinity), set(M), get(P), set(Q), get(N), set(LEFT), vectorLoop(LEFT, maxPass, UNROLL), hmax,
    v128Zero, set(S0), v128Zero, set(S1), get(P), set(Q), get(N), set(LEFT), vectorLoop(LEFT, expPass, UNROLL), hsum,
    get(P), set(Q), get(N), set(LEFT), vectorLoop(LEFT, divPass, UNROLL),
  );
}

/**
 * softmax(p, rows, n): each of `rows` rows of n float32s at p (n a multiple of 4, padding
 * lanes -Infinity) becomes exp(x - max) / sum, in place (softmaxRowCode).
 */
function softmaxRows(): WasmFunction {
  const [P, ROWS, N] = [0, 1, 2];
  const locals: SoftmaxLocals = { p: P, n: N, q: 3, left: 4, v: 5 };
  const row = cat(softmaxRowCode(locals), get(locals.q), set(P));
  const body = block(get(ROWS), eqz, brIf(0), loop(row, get(ROWS), i32(1), sub, tee(ROWS), brIf(0)));
  return { name: "softmax", params: 3, locals: [[2, I32], [SOFTMAX_V128_LOCALS, V128]], body };
}

/** The SIMD module's exp and softmax functions. */
export function softmaxKernels(): WasmFunction[] {
  return [expArray(), softmaxRows()];
}
