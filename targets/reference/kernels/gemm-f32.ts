// The float32 GEMM in JavaScript, for products too small to be worth copying
// into WebAssembly (and where WebAssembly is not available): the same sums in
// the same order as the SIMD kernels of gemm-f32-wasm.ts, whose header states
// the order and its error bound, so the two give the same bits. A float32 sum
// is emulated exactly: a product of two float32s is exact in float64, and
// rounding it to float32 (Math.fround) gives f32.mul; a float64 sum of two
// float32s rounded to float32 (the Float32Array store) gives f32.add, since
// float64 has more than 2 * 24 + 2 bits (Figueroa, "When is double rounding
// innocuous?", SIGNUM 1995).

import type { MatView } from "./gemm.js";
import { SKC } from "./gemm-f32-wasm.js";

/**
 * C (m x n, row-major float64) = A (m x k) * B (k x n), float32 data, in the float32 order:
 * per row, K blocks of SKC summed in float32 from zero in k order, blocks added in float64.
 */
export function gemmF32Js(m: number, n: number, k: number, a: MatView, b: MatView): Float64Array {
  const c = new Float64Array(m * n);
  if (m === 0 || n === 0 || k === 0) return c;
  const ad = a.data as Float32Array, bd = b.data as Float32Array, fround = Math.fround;
  const acc = new Float32Array(n);
  const { rowStride: bs, colStride: bc } = b;
  for (let i = 0; i < m; i++) {
    const row = a.offset + i * a.rowStride, ci = i * n;
    for (let k0 = 0; k0 < k; k0 += SKC) {
      acc.fill(0);
      const end = Math.min(k, k0 + SKC);
      for (let p = k0; p < end; p++) {
        const av = ad[row + p * a.colStride]!, src = b.offset + p * bs;
        if (bc === 1) for (let j = 0; j < n; j++) acc[j] = acc[j]! + fround(av * bd[src + j]!);
        else for (let j = 0; j < n; j++) acc[j] = acc[j]! + fround(av * bd[src + j * bc]!);
      }
      for (let j = 0; j < n; j++) c[ci + j]! += acc[j]!;
    }
  }
  return c;
}
