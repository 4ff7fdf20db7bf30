// Float32 Sigmoid, Tanh and Erf as WebAssembly SIMD: each float32 is widened
// to float64 (two f64x2 halves of an f32x4), computed with exactly the float64
// operations of math.ts's laneExp, laneSigmoid, laneTanh and laneErf, in the
// same order, and rounded back to float32. WebAssembly's f64x2 arithmetic is
// IEEE float64 (no fused operations), so these give those functions' bits:
// the JavaScript loops are the fallback and the same answer, and a value does
// not depend on how large its tensor is or how it is tiled. Why float64 lanes
// rather than float32 (Cephes' expf, as Softmax uses): the float32 results
// stay within one ulp of the exact functions, as the tests ask of Sigmoid and
// Tanh, where float32 arithmetic would add one or two.
//
// HardSwish and HardSigmoid are computed in float64 lanes too, as their
// JavaScript loops compute them (one rounding at the end); Relu is a float32
// select that keeps NaN's bits.
//
// name(src, dst, n, params): dst[i] = f(src[i]) over n float32s, 4 per step (up
// to 3 elements past n are read and written: callers pad); params, the address
// of HardSigmoid's alpha and beta as float64s.

import type { Code, WasmFunction } from "./wasm-encode.js";
import { V128, add, brIf, cat, get, i32, i8x16Shuffle, load64Splat, loop, set, sub, tee, v128Load, v128Store } from "./wasm-encode.js";
import { ERF_FIT, EXP_LANES, TANH_RATIONAL } from "./math.js";

const simd = (op: number): Code => [0xfd, ...(op < 0x80 ? [op] : [(op & 0x7f) | 0x80, op >> 7])];
// f64x2 arithmetic and comparisons, i64x2 arithmetic, bitselect and conversions (SIMD spec opcodes).
const fAdd = simd(0xf0), fSub = simd(0xf1), fMul = simd(0xf2), fDiv = simd(0xf3), fPmin = simd(0xf6), fPmax = simd(0xf7);
const fAbs = simd(0xec), fNeg = simd(0xed), fEq = simd(0x47), fLt = simd(0x49), fGt = simd(0x4a), fGe = simd(0x4c);
const fMin = simd(0xf4), fMax = simd(0xf5); // IEEE minimum and maximum: NaN if either is, and -0 < +0, as Math.min and Math.max
const iSub64 = simd(0xd1), iShl64 = simd(0xcb), bitselect = simd(0x52), promoteLow = simd(0x5f), demoteZero = simd(0x5e);
const f64x2 = (x: number): Code => [0xfd, 0x0c, ...new Uint8Array(new Float64Array([x, x]).buffer)];
const i64x2 = (x: bigint): Code => [0xfd, 0x0c, ...new Uint8Array(new BigInt64Array([x, x]).buffer)];
const highHalf = i8x16Shuffle([8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15]);
const lowHalves = i8x16Shuffle([0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23]);
const MAGIC_BITS = new BigInt64Array(new Float64Array([EXP_LANES.magic]).buffer)[0]!;

/** Local X (f64x2) becomes laneExp(X); T, N, P are scratch. */
function exp(X: number, T: number, N: number, P: number): Code {
  const [c0, ...rest] = EXP_LANES.taylor;
  return cat(
    get(X), f64x2(EXP_LANES.hi), fPmin, f64x2(EXP_LANES.lo), fPmax, set(X), // NaN stays (the first operand)
    get(X), f64x2(Math.LOG2E), fMul, f64x2(EXP_LANES.magic), fAdd, set(T),
    get(T), f64x2(EXP_LANES.magic), fSub, set(N),
    get(X), get(N), f64x2(EXP_LANES.ln2Hi), fMul, fSub, get(N), f64x2(EXP_LANES.ln2Lo), fMul, fSub, set(X), // r
    f64x2(c0), ...rest.map((c) => cat(get(X), fMul, f64x2(c), fAdd)), set(P),
    // 2^n: the low bits of T hold n; (n + 1023) << 52 is its float64.
    get(P), get(T), i64x2(MAGIC_BITS - 1023n), iSub64, i32(52), iShl64, fMul, set(X),
  );
}

type Lanes = (X: number, s: readonly number[]) => Code;

const sigmoid: Lanes = (X, [T, N, P]) => cat(
  get(X), fNeg, set(X), exp(X, T!, N!, P!),
  f64x2(1), f64x2(1), get(X), fAdd, fDiv, set(X),
);

const tanh: Lanes = (X, [T, N, P, A, S, Z, W]) => {
  const [p0, p1, p2] = TANH_RATIONAL.p, [q0, q1, q2] = TANH_RATIONAL.q;
  return cat(
    get(X), fAbs, set(A!),
    get(A!), f64x2(2), fMul, set(Z!), exp(Z!, T!, N!, P!),
    f64x2(1), f64x2(2), get(Z!), f64x2(1), fAdd, fDiv, fSub, set(Z!), // 1 - 2 / (e + 1)
    get(Z!), fNeg, get(Z!), get(X), f64x2(0), fLt, bitselect, set(Z!), // x < 0 ? -z : z
    get(X), get(X), fMul, set(S!),
    get(X), get(X), get(S!), fMul,
    f64x2(p0), get(S!), fMul, f64x2(p1), fAdd, get(S!), fMul, f64x2(p2), fAdd,
    get(S!), f64x2(q0), fAdd, get(S!), fMul, f64x2(q1), fAdd, get(S!), fMul, f64x2(q2), fAdd,
    fDiv, fMul, fAdd, set(W!), // x + x s (p / q)
    get(X), get(W!), get(X), f64x2(0), fEq, bitselect, set(W!), // x === 0 ? x (keeps -0) : that
    get(Z!), get(W!), get(A!), f64x2(0.625), fGt, bitselect, set(X), // |x| > 0.625 ? big : small
  );
};

const erf: Lanes = (X, [T, N, P, Z, U, E]) => {
  const [f0, ...fit] = ERF_FIT;
  const h = cat(f64x2(fit[fit.length - 1]!), ...fit.slice(0, -1).reverse().map((c) => cat(get(U!), fMul, f64x2(c), fAdd)));
  return cat(
    get(X), fAbs, set(Z!),
    f64x2(1), f64x2(1), f64x2(0.5), get(Z!), fMul, fAdd, fDiv, set(U!), // t = 1 / (1 + z / 2)
    get(Z!), fNeg, get(Z!), fMul, f64x2(f0), fAdd, get(U!), h, fMul, fAdd, set(E!), exp(E!, T!, N!, P!),
    get(U!), get(E!), fMul, set(E!), // erfc = t * exp(-z^2 + fit(t))
    f64x2(1), get(E!), fSub, get(E!), f64x2(1), fSub, get(X), f64x2(0), fGe, bitselect, set(X),
  );
};

/** HardSwish: v * max(0, min(1, v / 6 + 0.5)), in float64 as pointwise.ts's loop computes it. */
const hardSwish: Lanes = (X, [T]) => cat(
  f64x2(1), get(X), f64x2(6), fDiv, f64x2(0.5), fAdd, fMin, set(T!),
  get(X), f64x2(0), get(T!), fMax, fMul, set(X),
);

/** HardSigmoid: max(0, min(1, p * v + q)), p and q the float64s at the kernel's fourth argument. */
const hardSigmoid: Lanes = (X, [T]) => cat(
  f64x2(0), f64x2(1), get(PARAMS), load64Splat(0), get(X), fMul, get(PARAMS), load64Splat(8), fAdd, fMin, fMax, set(X),
);
const PARAMS = 3; // the kernels' fourth argument (address of two float64s)

function arrayKernel(name: string, lanes: Lanes): WasmFunction {
  const [SRC, DST, LEFT] = [0, 1, 2];
  const [V, A, B] = [4, 5, 6], scratch = [7, 8, 9, 10, 11, 12, 13];
  const body = cat(
    get(SRC), v128Load(0), set(V),
    get(V), promoteLow, set(A), get(V), get(V), highHalf, promoteLow, set(B),
    lanes(A, scratch), lanes(B, scratch),
    get(DST), get(A), demoteZero, get(B), demoteZero, lowHalves, v128Store(0),
    get(SRC), i32(16), add, set(SRC), get(DST), i32(16), add, set(DST),
    get(LEFT), i32(4), sub, tee(LEFT), i32(0), [0x4a] /* i32.gt_s */, brIf(0),
  );
  const guarded = cat([0x02, 0x40], get(LEFT), i32(0), [0x4c] /* i32.le_s */, brIf(0), loop(body), [0x0b]);
  return { name, params: 4, locals: [[10, V128]], body: guarded };
}

/** relu(src, dst, n): v > 0 or NaN stays (its bits too), anything else becomes +0; float32 throughout. */
function relu(): WasmFunction {
  const [SRC, DST, LEFT, V] = [0, 1, 2, 4];
  const gtZero = simd(0x44), ne = simd(0x42), or = simd(0x50), and = simd(0x4e);
  const body = cat(
    get(DST), get(SRC), v128Load(0), tee(V), get(V), f32x4Zero, gtZero, get(V), get(V), ne, or, and, v128Store(0),
    get(SRC), i32(16), add, set(SRC), get(DST), i32(16), add, set(DST),
    get(LEFT), i32(4), sub, tee(LEFT), i32(0), [0x4a] /* i32.gt_s */, brIf(0),
  );
  const guarded = cat([0x02, 0x40], get(LEFT), i32(0), [0x4c] /* i32.le_s */, brIf(0), loop(body), [0x0b]);
  return { name: "relu", params: 4, locals: [[1, V128]], body: guarded };
}
const f32x4Zero: Code = [0xfd, 0x0c, ...new Array<number>(16).fill(0)];

/** Local X (f64x2) becomes f(X) for each float32 function here, with 7 scratch v128 locals (the lane functions' bits). */
export const LANE_FUNCTIONS: Readonly<Record<"Sigmoid" | "Tanh" | "Erf", (X: number, scratch: readonly number[]) => Code>> = { Sigmoid: sigmoid, Tanh: tanh, Erf: erf };
export const LANE_SCRATCH = 7;
export { highHalf, lowHalves, promoteLow, demoteZero };

/** The SIMD module's sigmoid, tanh, erf, hardswish, hardsigmoid and relu functions. */
export function mathKernels(): WasmFunction[] {
  return [
    arrayKernel("sigmoid", sigmoid), arrayKernel("tanh", tanh), arrayKernel("erf", erf),
    arrayKernel("hardswish", hardSwish), arrayKernel("hardsigmoid", hardSigmoid), relu(),
  ];
}
