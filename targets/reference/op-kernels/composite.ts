// Reference kernels of the composite ops (domain "tierflow", ir/graph/ops/composite*.ts):
// each runs its decomposition, and RMSNorm, SiLU, SwiGLU and Rotary first try a
// direct kernel that computes the same in one pass. The direct kernels are also
// what the interpreter's fused steps run (kernel-table.ts, directKernelFor): where
// one leaves a case, the step runs the nodes its pattern matched instead.

import type { Tensor } from "../../../ir/tensor.js";
import { makeTensor } from "../../../ir/tensor.js";
import { FLOATS, floatAttr } from "../../../ir/graph/ops/util.js";
import { COMPOSITE_OPS } from "../../../ir/graph/ops/composite.js";
import { binaryOp, unaryOp } from "../kernels/pointwise.js";
import { rmsNorm } from "../kernels/rms-norm.js";
import { rotateHalf } from "../kernels/rotary.js";
import type { KernelEntry } from "./op-kernel.js";
import type { DirectKernel } from "./decomposition.js";
import { compositeKernel } from "./decomposition.js";

/**
 * RMSNorm on float32 x with a float32 weight over the last axis, rounding every step to
 * float32 as the decomposition's tensors do: squares, their mean (summed in float64, in
 * order), mean + epsilon, its square root and reciprocal, x * that, times the weight.
 */
function rmsNormF32(x: Tensor, weight: Tensor, epsilon: number): Tensor[] | undefined {
  const n = x.dims[x.dims.length - 1];
  if (x.dtype !== "f32" || weight.dtype !== "f32" || n === undefined || weight.dims.length !== 1 || weight.dims[0] !== n) return undefined;
  const out = makeTensor("f32", x.dims);
  const xd = x.data as Float32Array, wd = weight.data as Float32Array, od = out.data as Float32Array;
  const eps = Math.fround(epsilon), fr = Math.fround;
  for (let base = 0; base < xd.length; base += n) {
    let sum = 0;
    for (let j = 0; j < n; j++) sum += fr(xd[base + j]! * xd[base + j]!);
    const inv = fr(1 / fr(Math.sqrt(fr(fr(sum / n) + eps))));
    for (let j = 0; j < n; j++) od[base + j] = fr(xd[base + j]! * inv) * wd[j]!;
  }
  return [out];
}

/** RMSNorm of float32 x: one SIMD pass where it applies (rows a multiple of 4 long), else rmsNormF32. */
function rmsNormDirect(x: Tensor, weight: Tensor, epsilon: number): Tensor[] | undefined {
  const simd = rmsNorm(x, weight, Math.fround(epsilon));
  return simd ? [simd] : rmsNormF32(x, weight, epsilon);
}

/** The composites with a direct kernel. */
export const COMPOSITE_DIRECT_KERNELS: Readonly<Record<string, DirectKernel>> = {
  RMSNorm: ([x, weight], { attrs }) => (x && weight ? rmsNormDirect(x, weight, floatAttr(attrs, "epsilon", 1e-6)) : undefined),
  SiLU: ([x]) => (x && FLOATS.includes(x.dtype) ? [unaryOp("SiLU", x)] : undefined),
  SwiGLU: ([gate, up]) => (gate && up && FLOATS.includes(gate.dtype) && up.dtype === gate.dtype ? [binaryOp("SwiGLU", gate, up, gate.dtype)] : undefined),
  Rotary: ([x, cos, sin]) => {
    const y = x && cos && sin ? rotateHalf(x, cos, sin) : undefined;
    return y ? [y] : undefined;
  },
};

export const COMPOSITE_KERNELS: readonly KernelEntry[] = COMPOSITE_OPS.map((def) => ({ domain: def.domain, op: def.op, kernel: compositeKernel(def, COMPOSITE_DIRECT_KERNELS[def.op]) }));
