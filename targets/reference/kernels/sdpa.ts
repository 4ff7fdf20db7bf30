// Scaled dot-product attention over heads-first arrays: the core the direct
// kernels of the imported attention ops share (attention-ops.ts: ONNX's
// Attention, onnxruntime's MultiHeadAttention and GroupQueryAttention). Each op
// says only how it masks: an additive bias per score, the range of keys a query
// may see at all, and whether a row whose every key is masked comes out zero.
// The rest is common: scores rounded to float32 as a float32 GEMM writes them,
// an optional soft cap before the bias, softmax with its maximum subtracted,
// and grouped key/value heads (query head h reads key/value head
// floor(h / groups), as onnxruntime and tierflow's Attention composite do).
// f16/bf16 inputs arrive widened to float32 (ir/tensor.ts); callers round the
// results back to their dtype.

import { fail } from "../../../ir/diagnostics.js";
import type { Tensor } from "../../../ir/tensor.js";
import { broadcastStrides } from "./strided.js";

/** A contiguous [batch, heads, seq, size] float32 array. */
export interface Heads {
  readonly data: Float32Array;
  readonly batch: number;
  readonly heads: number;
  readonly seq: number;
  readonly size: number;
}

/** An additive bias over the scores [batch, heads, queries, keys], read through (broadcast) strides. */
export interface ScoreBias {
  readonly data: Float32Array;
  readonly strides: readonly [number, number, number, number];
}

export interface AttentionProblem {
  readonly q: Heads;
  readonly k: Heads;
  readonly v: Heads;
  readonly scale: number;
  /** Scores become softcap * tanh(score / softcap) before the bias when > 0. */
  readonly softcap: number;
  readonly bias?: ScoreBias;
  /** Keys [start, end) that query `s` of batch `b` may see; the others take no part in its softmax. */
  readonly keyRange?: (b: number, s: number) => readonly [number, number];
  /**
   * A row whose bias is this or below at every key it sees (every key masked with the dtype's
   * lowest value) comes out zero, as onnxruntime's Attention gives; absent, such a row is a plain
   * softmax. (onnxruntime tests the row's best biased score, which rounds to the same value.)
   */
  readonly zeroRowsAtOrBelow?: number;
}

/** softmax(q k^T * scale (+ bias)) v, as [batch, heads, queries, value size]. */
export function scaledDotProductAttention(p: AttentionProblem): Heads {
  const { q, k, v, scale, softcap, bias } = p;
  const groups = q.heads / k.heads, keys = k.seq, d = q.size, dv = v.size;
  if (!Number.isInteger(groups) || v.heads !== k.heads || v.seq !== keys || k.size !== d || k.batch !== q.batch || v.batch !== q.batch) {
    fail(`attention over q [${dimsOf(q)}], k [${dimsOf(k)}] and v [${dimsOf(v)}]: the shapes do not fit together`);
  }
  const out = new Float32Array(q.batch * q.heads * q.seq * dv);
  const row = new Float32Array(keys), acc = new Float64Array(dv), fr = Math.fround;
  for (let b = 0; b < q.batch; b++) {
    for (let h = 0; h < q.heads; h++) {
      const kvBase = (b * k.heads + Math.floor(h / groups)) * keys;
      for (let s = 0; s < q.seq; s++) {
        const qo = ((b * q.heads + h) * q.seq + s) * d, oo = ((b * q.heads + h) * q.seq + s) * dv;
        const [lo, hi] = p.keyRange ? p.keyRange(b, s) : [0, keys];
        let max = -Infinity, maxBias = -Infinity;
        for (let t = lo; t < hi; t++) {
          const ko = (kvBase + t) * d;
          let dot = 0;
          for (let j = 0; j < d; j++) dot += q.data[qo + j]! * k.data[ko + j]!;
          let x = fr(dot * scale);
          if (softcap > 0) x = fr(softcap * fr(Math.tanh(fr(x / softcap))));
          if (bias) {
            const add = bias.data[b * bias.strides[0] + h * bias.strides[1] + s * bias.strides[2] + t * bias.strides[3]]!;
            x = fr(x + add);
            if (add > maxBias) maxBias = add;
          }
          row[t] = x;
          if (x > max) max = x;
        }
        if (hi <= lo || (bias && p.zeroRowsAtOrBelow !== undefined && maxBias <= p.zeroRowsAtOrBelow)) continue; // a zero row
        let sum = 0;
        for (let t = lo; t < hi; t++) sum += (row[t] = fr(Math.exp(row[t]! - max)));
        acc.fill(0);
        for (let t = lo; t < hi; t++) {
          const w = fr(row[t]! / sum), vo = (kvBase + t) * dv;
          for (let j = 0; j < dv; j++) acc[j]! += w * v.data[vo + j]!;
        }
        for (let j = 0; j < dv; j++) out[oo + j] = acc[j]!;
      }
    }
  }
  return { data: out, batch: q.batch, heads: q.heads, seq: q.seq, size: dv };
}

const dimsOf = (x: Heads) => [x.batch, x.heads, x.seq, x.size].join(", ");

/** A 4-D [batch, heads, seq, size] tensor as Heads (its storage, not a copy). */
export function headsOf(t: Tensor): Heads {
  const [batch, heads, seq, size] = t.dims as [number, number, number, number];
  return { data: t.data as Float32Array, batch, heads, seq, size };
}

/** [batch, seq, heads * size] -> heads first, adding `bias` (a row of heads * size) when given. */
export function splitHeads(t: Tensor, heads: number, bias?: Float32Array): Heads {
  const [batch, seq, hidden] = t.dims as [number, number, number];
  const size = hidden / heads, src = t.data as Float32Array, data = new Float32Array(src.length);
  for (let b = 0; b < batch; b++) {
    for (let s = 0; s < seq; s++) {
      for (let h = 0; h < heads; h++) {
        const from = (b * seq + s) * hidden + h * size, to = ((b * heads + h) * seq + s) * size;
        for (let j = 0; j < size; j++) data[to + j] = bias ? Math.fround(src[from + j]! + bias[h * size + j]!) : src[from + j]!;
      }
    }
  }
  return { data, batch, heads, seq, size };
}

/** Heads first -> [batch, seq, heads * size]. */
export function mergeHeads(x: Heads): Float32Array {
  const out = new Float32Array(x.data.length), hidden = x.heads * x.size;
  for (let b = 0; b < x.batch; b++) {
    for (let h = 0; h < x.heads; h++) {
      for (let s = 0; s < x.seq; s++) {
        const from = ((b * x.heads + h) * x.seq + s) * x.size, to = (b * x.seq + s) * hidden + h * x.size;
        out.set(x.data.subarray(from, from + x.size), to);
      }
    }
  }
  return out;
}

/** Past and new entries along the sequence axis: [batch, heads, past + new, size]. */
export function concatSeq(past: Heads | undefined, added: Heads): Heads {
  if (!past) return added;
  const seq = past.seq + added.seq, data = new Float32Array(added.batch * added.heads * seq * added.size);
  for (let bh = 0; bh < added.batch * added.heads; bh++) {
    data.set(past.data.subarray(bh * past.seq * past.size, (bh + 1) * past.seq * past.size), bh * seq * added.size);
    data.set(added.data.subarray(bh * added.seq * added.size, (bh + 1) * added.seq * added.size), (bh * seq + past.seq) * added.size);
  }
  return { data, batch: added.batch, heads: added.heads, seq, size: added.size };
}

/**
 * A [batch, heads, queries, keys] bias of zeros, or `mask` (float values, or bool: 0 where true,
 * `lowest` where false) broadcast to it, as a dense array the op may then edit.
 */
export function scoreBias(dims: readonly [number, number, number, number], mask: Tensor | undefined, lowest: number): Float32Array {
  const [batch, heads, queries, keys] = dims, out = new Float32Array(batch * heads * queries * keys);
  if (!mask) return out;
  const st = broadcastStrides(mask.dims, dims), src = mask.data, bool = mask.dtype === "bool";
  let i = 0;
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      for (let s = 0; s < queries; s++) {
        const base = b * st[0]! + h * st[1]! + s * st[2]!;
        for (let t = 0; t < keys; t++, i++) {
          const m = Number(src[base + t * st[3]!]);
          out[i] = bool ? (m ? 0 : lowest) : m;
        }
      }
    }
  }
  return out;
}

/** Strides of a dense [batch, heads, queries, keys] array. */
export function denseStrides(dims: readonly [number, number, number, number]): [number, number, number, number] {
  return [dims[1] * dims[2] * dims[3], dims[2] * dims[3], dims[3], 1];
}
