// Softmax and LogSoftmax. From opset 13 they normalise along one axis (default
// -1); before that the input is coerced to 2-D at `axis` (default 1) and each
// row is normalised. The row max is subtracted first for stability; NaN or +Inf
// in a row makes the whole row NaN, as in onnxruntime and the ONNX reference.
// Float32 rows along the last axis run as WebAssembly SIMD (simd.ts: float32
// exp within 1.5e-7, sums in float64); other cases in JavaScript, exps in float64.

import type { Attrs } from "../../../ir/graph/graph.js";
import type { Tensor } from "../../../ir/tensor.js";
import { FLOATS, intAttr, normalizeAxis } from "../../../ir/graph/ops/util.js";
import { requireFloat, roundToDType, sizeOf } from "./common.js";
import { fastExp } from "./math.js";
import { softmaxF32 } from "./simd.js";
import { allocateOverwritten } from "./buffers.js";

export function softmaxKernel(x: Tensor, attrs: Attrs, opset: number, log: boolean): Tensor {
  requireFloat(x, FLOATS, `${log ? "LogSoftmax" : "Softmax"} input`);
  const legacy = opset < 13;
  const axis = normalizeAxis(intAttr(attrs, "axis", legacy ? 1 : -1), x.dims.length);
  const outer = sizeOf(x.dims, 0, axis);
  const n = legacy ? sizeOf(x.dims, axis) : x.dims[axis]!;
  const inner = legacy ? 1 : sizeOf(x.dims, axis + 1);
  const out = allocateOverwritten(x.dtype, x.dims);
  const xd = x.data as Float32Array, od = out.data as Float32Array;
  if (!log && inner === 1 && x.dtype === "f32" && softmaxF32(xd, od, outer, n)) return out;
  const exps = new Float64Array(n); // each exp once, kept in float64 so the quotient is as if recomputed
  const f32 = od instanceof Float32Array; // float32 results: math.ts's fastExp is accurate enough
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * n * inner + i;
      let max = -Infinity;
      for (let j = 0, p = base; j < n; j++, p += inner) if (xd[p]! > max) max = xd[p]!;
      // A NaN is skipped by the max but reaches the sum through exp(NaN - max).
      let sum = 0;
      if (f32) {
        for (let j = 0, p = base; j < n; j++, p += inner) {
          const e = fastExp(xd[p]! - max);
          exps[j] = e;
          sum += e;
        }
      } else {
        for (let j = 0, p = base; j < n; j++, p += inner) {
          const e = Math.exp(xd[p]! - max);
          exps[j] = e;
          sum += e;
        }
      }
      if (log) {
        const logSum = Math.log(sum);
        for (let j = 0, p = base; j < n; j++, p += inner) od[p] = xd[p]! - max - logSum;
      } else {
        for (let j = 0, p = base; j < n; j++, p += inner) od[p] = exps[j]! / sum;
      }
    }
  }
  return roundToDType(out);
}
