// Scalar math that JavaScript lacks.

/**
 * erf(x) from the complementary error function's Chebyshev fit
 * (Numerical Recipes, 2nd ed., section 6.2: fractional error below 1.2e-7,
 * under float32 precision).
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return x;
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
    t * (-0.82215223 + t * 0.17087277))))))));
  const erfc = t * fastExp(poly); // the fit's own error (1.2e-7) is far above fastExp's
  return x >= 0 ? 1 - erfc : erfc - 1;
}

export function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

// exp, tanh and sigmoid for kernels whose results are stored as float32, about
// twice as fast as Math.exp and Math.tanh here and within 3 units in the last
// place of float64 (so their float32 roundings match the precise functions'
// except where a value lies within that distance of a float32 rounding
// boundary). exp: x = (64m + j) ln2/64 + r with |r| <= ln2/128, so
// exp(x) = 2^m * 2^(j/64) * exp(r), exp(r) by a degree-5 polynomial (error
// below 2^-56 on that interval); ln2/64 is split in two so that n * hi is exact.
// tanh: Cephes' rational approximation for |x| <= 0.625, 1 - 2 / (exp(2|x|) + 1) above.

const EXP_SHIFT = 6755399441055744; // 1.5 * 2^52: adding it rounds to an integer
const EXP_INV_STEP = 64 / Math.LN2;
const EXP_STEP_HI = 6.93147180369123816490e-1 / 64; // ln2 split as in fdlibm (hi has 32 significant bits)
const EXP_STEP_LO = 1.90821492927058770002e-10 / 64;
const EXP_FRACTIONS = Float64Array.from({ length: 64 }, (_, j) => 2 ** (j / 64));
const EXP_POWERS = Float64Array.from({ length: 2048 }, (_, k) => 2 ** (k - 1024)); // 2^m for m in [-1024, 1023]

export function fastExp(x: number): number {
  if (!(x < 709 && x > -708)) return Math.exp(x); // overflow, underflow to subnormals, NaN
  const nf = x * EXP_INV_STEP + EXP_SHIFT - EXP_SHIFT;
  const r = x - nf * EXP_STEP_HI - nf * EXP_STEP_LO;
  const n = nf | 0;
  const r2 = r * r;
  const p = 1 + r + r2 * (0.5 + r * (1 / 6) + r2 * (1 / 24 + r * (1 / 120)));
  return p * EXP_FRACTIONS[n & 63]! * EXP_POWERS[(n >> 6) + 1024]!;
}

const TANH_P0 = -9.64399179425052238628e-1, TANH_P1 = -9.92877231001918586564e1, TANH_P2 = -1.61468768441708447952e3;
const TANH_Q0 = 1.12811678491632931402e2, TANH_Q1 = 2.23548839060100448583e3, TANH_Q2 = 4.84406305325125486048e3;

export function fastTanh(x: number): number {
  const a = Math.abs(x);
  if (a > 0.625) {
    const z = 1 - 2 / (fastExp(2 * a) + 1);
    return x < 0 ? -z : z;
  }
  if (x === 0) return x; // keeps -0
  const s = x * x;
  const p = (TANH_P0 * s + TANH_P1) * s + TANH_P2, q = ((s + TANH_Q0) * s + TANH_Q1) * s + TANH_Q2;
  return x + x * s * (p / q);
}

export function fastSigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + fastExp(-x));
  const e = fastExp(x);
  return e / (1 + e);
}

// Sigmoid, Tanh and Erf for results stored as float32, in float64 arithmetic
// that WebAssembly's f64x2 lanes repeat operation for operation
// (simd-math-wasm.ts), so the SIMD kernels and these loops give the same bits
// and a tensor's values do not depend on its size or tiling. exp: n = round(x
// / ln2) by adding 1.5 * 2^52, r = x - n ln2 (ln2 split as in fdlibm, so n *
// hi is exact), exp(r) by its Taylor polynomial of degree 10 (relative error
// below 2e-13 for |r| <= ln2 / 2), times 2^n; x clamped to [-708, 709] first.
// Then sigmoid = 1 / (1 + exp(-x)); tanh as fastTanh (Cephes' rational below
// 0.625); erf as erf above (Numerical Recipes' fit, 1.2e-7). All within one
// float32 ulp of the exact functions (the fit's error aside, for erf).

const EXP_MAGIC = 6755399441055744;
const EXP_TAYLOR = [1 / 3628800, 1 / 362880, 1 / 40320, 1 / 5040, 1 / 720, 1 / 120, 1 / 24, 1 / 6, 0.5, 1, 1] as const;
const LN2_HI = 6.93147180369123816490e-1, LN2_LO = 1.90821492927058770002e-10;

/** The shared exp (see above); exported for the SIMD kernels' constants and tests. */
export const EXP_LANES = { magic: EXP_MAGIC, taylor: EXP_TAYLOR, ln2Hi: LN2_HI, ln2Lo: LN2_LO, lo: -708, hi: 709 } as const;

export function laneExp(x: number): number {
  const c = x < -708 ? -708 : x > 709 ? 709 : x;
  const t = c * Math.LOG2E + EXP_MAGIC, n = t - EXP_MAGIC;
  const r = c - n * LN2_HI - n * LN2_LO;
  let p = EXP_TAYLOR[0];
  for (let i = 1; i < EXP_TAYLOR.length; i++) p = p * r + EXP_TAYLOR[i]!;
  return p * EXP_POWERS[(n | 0) + 1024]!;
}

export function laneSigmoid(x: number): number {
  return 1 / (1 + laneExp(-x));
}

export function laneTanh(x: number): number {
  const a = Math.abs(x);
  if (a > 0.625) {
    const z = 1 - 2 / (laneExp(2 * a) + 1);
    return x < 0 ? -z : z;
  }
  if (x === 0) return x;
  const s = x * x;
  const p = (TANH_P0 * s + TANH_P1) * s + TANH_P2, q = ((s + TANH_Q0) * s + TANH_Q1) * s + TANH_Q2;
  return x + x * s * (p / q);
}

/** erf's fit coefficients, constant term first after the leading -z^2 (as erf above evaluates them). */
export const ERF_FIT = [-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277] as const;

export function laneErf(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  let h = ERF_FIT[9];
  for (let i = 8; i >= 1; i--) h = ERF_FIT[i]! + t * h;
  const erfc = t * laneExp(-z * z + ERF_FIT[0] + t * h);
  return x >= 0 ? 1 - erfc : erfc - 1;
}

export const TANH_RATIONAL = { p: [TANH_P0, TANH_P1, TANH_P2], q: [TANH_Q0, TANH_Q1, TANH_Q2] } as const;
