// MatMul(Gather(table, indices), B) without materialising the Gather (or a
// GatherND that picks the same rows, as the dynamo exporter writes it): the
// per-token expert products of a mixture-of-experts block (table [experts,
// m, k], one index per token, B the token's [k, n]). Tokens routed to the same
// expert become the columns of one GEMM, W_e [m, k] x [B_t ...] [k, n T_e],
// which runs at the packed kernel's rate on every thread, where the unfused
// graph copies a [tokens, m, k] tensor (134 MB in mixtral-tiny at 1024
// tokens) and multiplies it by vectors, bound by memory.
//
// Same bits as Gather then MatMul: the float32 GEMM's sum for an element
// depends only on its row of A, its column of B and K (gemm-f32-wasm.ts), not
// on which other columns share the call. Returns undefined, computing nothing,
// for what it does not cover (dtypes other than float32, a table not of rank
// 3, B of rank 1, indices out of range, shapes that do not broadcast): the
// caller then runs Gather and MatMul, which also give their own errors.

import type { Tensor } from "../../../ir/tensor.js";
import { elementCount } from "../../../ir/tensor.js";
import { broadcastIndex } from "./broadcast.js";
import { allocateOverwritten } from "./buffers.js";
import { gemmFloatBatch } from "./gemm.js";

/** Batch dims of A (the indices' dims) and of B broadcast numpy-style, or undefined where they do not. */
function broadcastBatch(a: readonly number[], b: readonly number[]): number[] | undefined {
  const rank = Math.max(a.length, b.length), out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1, y = b[b.length - rank + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) return undefined;
    out.push(x === 1 ? y : x);
  }
  return out;
}

/**
 * MatMul(Gather(table, indices, axis 0), b), or with `nd` MatMul(GatherND(table, indices), b)
 * where indices' last axis has length 1 (the same rows; negative indices are then left to
 * GatherND). Undefined where it does not apply.
 */
export function gatherMatmulKernel(table: Tensor, indices: Tensor, b: Tensor, nd = false): Tensor | undefined {
  if (table.dtype !== "f32" || b.dtype !== "f32" || table.dims.length !== 3 || b.dims.length < 2) return undefined;
  if (indices.dtype !== "i64" && indices.dtype !== "i32") return undefined;
  if (nd && (indices.dims.length === 0 || indices.dims[indices.dims.length - 1] !== 1)) return undefined;
  const indexDims = nd ? indices.dims.slice(0, -1) : indices.dims;
  const [experts, m, k] = table.dims as [number, number, number];
  const n = b.dims[b.dims.length - 1]!, bBatch = b.dims.slice(0, -2);
  if (b.dims[b.dims.length - 2] !== k) return undefined;
  const batch = broadcastBatch(indexDims, bBatch);
  if (!batch) return undefined;
  const count = elementCount(batch);
  const ia = broadcastIndex(indexDims, batch), ib = broadcastIndex(bBatch, batch);
  const expertOf = new Int32Array(count);
  for (let t = 0; t < count; t++) {
    const e = Number(indices.data[ia ? ia[t]! : t]!);
    if (e < (nd ? 0 : -experts) || e >= experts) return undefined;
    expertOf[t] = e < 0 ? e + experts : e;
  }
  const out = allocateOverwritten("f32", [...batch, m, n]);
  const od = out.data as Float32Array, bd = b.data as Float32Array;
  if (count === 0 || m === 0 || n === 0) return out;
  for (let e = 0; e < experts; e++) {
    const tokens: number[] = [];
    for (let t = 0; t < count; t++) if (expertOf[t] === e) tokens.push(t);
    if (tokens.length === 0) continue;
    // Columns q * n + j of X are column j of B_t for the q-th token t of this expert.
    const cols = tokens.length * n, x = new Float32Array(k * cols);
    tokens.forEach((t, q) => {
      const src = (ib ? ib[t]! : t) * k * n;
      for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) x[p * cols + q * n + j] = bd[src + p * n + j]!;
    });
    gemmFloatBatch({
      m, n: cols, k, count: 1, f32Result: true,
      a: () => ({ data: table.data, offset: e * m * k, rowStride: k, colStride: 1 }),
      b: () => ({ data: x, offset: 0, rowStride: cols, colStride: 1 }),
    }, (_, row0, col0, rows, width, c, off, ldc) => {
      for (let w = 0; w < width; w++) {
        const q = Math.floor((col0 + w) / n), j = (col0 + w) % n, dst = tokens[q]! * m * n + j;
        for (let r = 0; r < rows; r++) od[dst + (row0 + r) * n] = c[off + r * ldc + w]!;
      }
    });
  }
  return out;
}
