// RMS normalisation as exporters write it (Llama, Mistral, Mixtral):
//   w * (x * (1 / sqrt(ReduceMean(Pow(x, 2), last axis) + eps)))
// in one pass over x (rms-norm-wasm.ts via simd.ts): the direct kernel of
// tierflow.RMSNorm (op-kernels/composite.ts), which the interpreter's fused
// RMSNorm steps run. The bits are the nodes'; undefined where the kernel does
// not apply (the caller then computes it another way).

import type { Tensor } from "../../../ir/tensor.js";
import { allocateOverwritten } from "./buffers.js";
import { sizeOf } from "./common.js";
import { rmsNormF32 } from "./simd.js";

/**
 * The result, or undefined where the kernel does not apply: float32 x and weight, the weight
 * a row of the last axis' length (perhaps with leading 1s), the last axis a multiple of 4 long.
 */
export function rmsNorm(x: Tensor, weight: Tensor, epsilon: number): Tensor | undefined {
  const rank = x.dims.length, n = x.dims[rank - 1] ?? 0;
  if (x.dtype !== "f32" || weight.dtype !== "f32" || rank === 0) return undefined;
  if (weight.dims.length > rank || weight.data.length !== n || weight.dims.slice(0, -1).some((d) => d !== 1)) return undefined;
  const out = allocateOverwritten("f32", x.dims);
  const done = rmsNormF32(x.data as Float32Array, weight.data as Float32Array, epsilon, out.data as Float32Array, sizeOf(x.dims, 0, rank - 1), n);
  return done ? out : undefined;
}
