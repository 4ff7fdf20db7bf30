// Softmax(x * s + mask) and Softmax(x / s + mask) in one pass through the SIMD
// module's memory (simd.ts scaledMaskedSoftmaxF32): the scaled, masked
// attention scores of a transformer, which the nodes would otherwise write and
// read back twice. The reference backend's fusion (targets/reference/fusions.ts)
// calls it and runs the nodes themselves wherever it returns undefined.

import type { Attrs } from "../../../ir/graph/graph.js";
import type { Tensor } from "../../../ir/tensor.js";
import { intAttr, normalizeAxis } from "../../../ir/graph/ops/util.js";
import { broadcastsTo, sizeOf } from "./common.js";
import { allocateOverwritten } from "./buffers.js";
import { scaledMaskedSoftmaxF32 } from "./simd.js";
import { broadcastStrides, collapseStrides, contiguousStrides } from "./strided.js";

/**
 * The fused result, or undefined where it does not apply: float32 only, one scale value,
 * the Softmax along the last axis, rows a multiple of 4 long, and a mask that broadcasts
 * to x without changing its shape.
 */
export function scaledMaskedSoftmax(x: Tensor, op: "Mul" | "Div", scale: Tensor, mask: Tensor | undefined,
  softmaxAttrs: Attrs, opset: number): Tensor | undefined {
  const rank = x.dims.length;
  if (x.dtype !== "f32" || scale.dtype !== "f32" || scale.data.length !== 1 || (mask && mask.dtype !== "f32")) return undefined;
  if (rank === 0 || scale.dims.length > rank || (mask && !broadcastsTo(mask.dims, x.dims))) return undefined;
  if (normalizeAxis(intAttr(softmaxAttrs, "axis", opset < 13 ? 1 : -1), rank) !== rank - 1) return undefined;
  const n = x.dims[rank - 1]!, rows = sizeOf(x.dims, 0, rank - 1);
  const maskView = mask && {
    data: mask.data as Float32Array,
    plan: collapseStrides(x.dims, [contiguousStrides(x.dims), broadcastStrides(mask.dims, x.dims), contiguousStrides(x.dims)]),
  };
  const out = allocateOverwritten("f32", x.dims);
  const done = scaledMaskedSoftmaxF32(x.data as Float32Array, op, (scale.data as Float32Array)[0]!, maskView, out.data as Float32Array, rows, n);
  return done ? out : undefined;
}
