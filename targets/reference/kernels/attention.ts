// Scaled dot-product attention in one kernel: MatMul(Q, K^T) -> Mul or Div by
// one value -> Add(mask) -> Softmax -> MatMul(., V), as the reference
// backend's attention fusion finds it (targets/reference/fusions.ts). Q, K^T
// and V come as strided views (the Transposes that move heads ahead of
// positions are read through), and the work runs per batch and head in
// attention-wasm.ts's kernel, with the bits of the nodes run one by one.
// Undefined where the kernel does not apply; the fusion then runs the steps
// separately.

import type { Tensor } from "../../../ir/tensor.js";
import { broadcastDims } from "./broadcast.js";
import { broadcastsTo } from "./common.js";
import { allocateOverwritten } from "./buffers.js";
import type { StridedOperand } from "./matmul.js";
import { attentionF32 } from "./simd.js";
import type { AttentionOperand } from "./simd.js";
import { batchOffsets, broadcastStrides } from "./strided.js";

const isF32 = (t: Tensor | undefined) => t === undefined || t.dtype === "f32";

/**
 * softmax(Q K^T op scale + mask) V for float32 views q [..., queries, d], kt [..., d, keys]
 * and v [..., keys, dv], the softmax along the last axis; `scale` one value (none: Mul by 1,
 * exact), `mask` broadcasting to the scores without changing their shape.
 */
export function fusedAttention(q: StridedOperand, kt: StridedOperand, v: StridedOperand, op: "Mul" | "Div",
  scale: Tensor | undefined, mask: Tensor | undefined): Tensor | undefined {
  if (![q.tensor, kt.tensor, v.tensor, scale, mask].every(isF32)) return undefined;
  const rq = q.dims.length, rk = kt.dims.length, rv = v.dims.length;
  if (rq < 2 || rk < 2 || rv < 2) return undefined;
  const queries = q.dims[rq - 2]!, d = q.dims[rq - 1]!, keys = kt.dims[rk - 1]!, dv = v.dims[rv - 1]!;
  if (kt.dims[rk - 2] !== d || v.dims[rv - 2] !== keys) return undefined;
  // Each row's elements must be contiguous: Q's and V's along their last axis, K's along d.
  if (q.strides[rq - 1] !== 1 || kt.strides[rk - 2] !== 1 || v.strides[rv - 1] !== 1) return undefined;
  const qBatch = q.dims.slice(0, -2), kBatch = kt.dims.slice(0, -2), vBatch = v.dims.slice(0, -2);
  const sBatch = broadcastDims(qBatch, kBatch), scores = [...sBatch, queries, keys];
  if (scale && (scale.data.length !== 1 || scale.dims.length > scores.length)) return undefined;
  if (mask && !broadcastsTo(mask.dims, scores)) return undefined;
  const batch = broadcastDims(sBatch, vBatch);
  const operand = (x: StridedOperand, own: readonly number[], rowAxis: number): AttentionOperand => ({
    data: x.tensor.data as Float32Array, offsets: batchOffsets(batch, own, x.strides), rowStride: x.strides[rowAxis]!,
  });
  let maskOperand: AttentionOperand | undefined;
  if (mask) {
    const strides = broadcastStrides(mask.dims, scores);
    if (strides[strides.length - 1] !== 1) return undefined; // one value per row (not a row of keys)
    maskOperand = { data: mask.data as Float32Array, offsets: batchOffsets(batch, sBatch, strides), rowStride: strides[strides.length - 2]! };
  }
  const out = allocateOverwritten("f32", [...batch, queries, dv]);
  const done = attentionF32({
    queries, keys, d, dv, op, scale: scale ? (scale.data as Float32Array)[0]! : 1,
    q: operand(q, qBatch, rq - 2), k: operand(kt, kBatch, rk - 1), v: operand(v, vBatch, rv - 2), mask: maskOperand,
  }, out.data as Float32Array);
  return done ? out : undefined;
}
