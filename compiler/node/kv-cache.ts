// KV cache sizing. Each attention layer keeps the keys and values of every
// token of every request: 2 x batch x context x KV heads x head dim elements,
// so a model needs
//   bytes = 2 * batch * context * layers * kvHeads * headDim * dtypeBytes
// (Pope et al., "Efficiently Scaling Transformer Inference", 2022, section 2).
// Under tensor parallelism a socket keeps only its KV heads (attention.ts
// lowers a key and a value cache per layer, [batch, KV heads, tokens, head dim]
// each; tensor-parallel.ts splits them by heads), in the
// HBM of the socket that computes it; placement spills whole layers' caches to
// DDR when they do not fit, and the cost model charges their reads at DDR
// bandwidth. How many tokens fit is what HBM has left beside everything else
// at its peak, divided by the bytes one token of one request takes.
// Known weakness: the cache is sized for the whole context up front (no
// paging), and activations' peak is taken at the plan's own batch.

import type { DataflowModule } from "../../ir/dataflow/dataflow.js";
import type { Allocation } from "../../ir/placement/plan.js";

export interface KvGeometry {
  readonly batch: number;
  readonly context: number;
  readonly layers: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly dtypeBytes: number;
}

export function kvCacheBytes(g: KvGeometry): number {
  return 2 * g.batch * g.context * g.layers * g.kvHeads * g.headDim * g.dtypeBytes;
}

/** Bytes one token of one request adds to a module's KV caches (every layer it holds). */
export function kvBytesPerToken(m: DataflowModule): number {
  let bytes = 0;
  for (const t of m.tensors) {
    if (t.role !== "kv-cache" || t.shape.length !== 4) continue;
    const [batch, , length] = t.shape as [number, number, number, number];
    bytes += t.bytes / Math.max(1, batch * length);
  }
  return bytes;
}

export interface KvSummary {
  /** Per socket: one token of one request, every layer the socket holds. */
  readonly bytesPerToken: number;
  readonly hbmBytes: number;
  readonly ddrBytes: number;
  /** batch x context that fits in the HBM left beside everything else at its peak. */
  readonly maxTokensInHbm: number;
}

export function kvSummary(m: DataflowModule, allocations: readonly Allocation[], hbmPeak: number, hbmCapacity: number): KvSummary {
  const caches = new Set(m.tensors.filter((t) => t.role === "kv-cache").map((t) => t.name));
  let hbm = 0, ddr = 0;
  for (const a of allocations) {
    if (!caches.has(a.tensor)) continue;
    if (a.tier === "hbm") hbm += a.bytes;
    else if (a.tier === "ddr") ddr += a.bytes;
  }
  const perToken = kvBytesPerToken(m);
  const free = Math.max(0, hbmCapacity - (hbmPeak - hbm));
  return { bytesPerToken: perToken, hbmBytes: hbm, ddrBytes: ddr, maxTokensInHbm: perToken > 0 ? Math.floor(free / perToken) : 0 };
}
