// The cost model. A section's time is the largest of its pipeline's compute
// time, each tier's traffic over that tier's bandwidth, and its on-chip stream
// traffic over the section's SRAM bandwidth, plus launch and switch overhead:
//   t = max(compute, hbmBytes / hbmBW, ddrBytes / ddrBW, streamBytes / sramBW) + overhead
// Tier traffic: inputs read from memory (weights included, the KV cache as the
// attention kernels read it) and outputs written back for later sections.
// Streams between kernels of one section stay on chip. On kernel-by-kernel
// targets every section is one kernel, so every intermediate goes through HBM.
// The floor is the roofline: max(all FLOPs / peak, weight and KV bytes / HBM BW).
// Node-level plans add the link term of their collective kernels (compiler/node).
// A target with an efficiency section is priced by it instead: a kernel-by-kernel
// target's measured curves kernel by kernel (measured-cost.ts); a dataflow target's
// sections stream HBM at most at the share of its bandwidth the chip reaches, and pay
// argument load and synchronisation per kernel call, a section of L decoder layers
// being L calls unless the target loops them (kernel-calls.ts).

import type { DataflowModule, DfKernel } from "../../ir/dataflow/dataflow.js";
import { KERNEL_KINDS } from "../../ir/dataflow/kinds.js";
import type { Prediction, SectionCost, TierName } from "../../ir/placement/plan.js";
import type { Target } from "../../targets/target.js";
import { peakFlops } from "../../targets/target.js";
import type { SectionSpan } from "../schedule/sections.js";
import { dataflowEfficiency, measuredCurves } from "./efficiency.js";
import type { DataflowEfficiency } from "./efficiency.js";
import { sectionCalls } from "./kernel-calls.js";
import { measuredSectionCost } from "./measured-cost.js";

/** Link time of a collective kernel (node-level plans): the transfer and the latency of its steps. */
export type LinkCost = (kernel: DfKernel) => { readonly transferSeconds: number; readonly latencySeconds: number } | undefined;

// Every section of a module asks the same questions of its tensors: index them once per module.
const indexes = new WeakMap<DataflowModule, { sizes: ReadonlyMap<string, number>; caches: ReadonlySet<string> }>();
function tensorIndex(m: DataflowModule): { sizes: ReadonlyMap<string, number>; caches: ReadonlySet<string> } {
  let index = indexes.get(m);
  if (!index) {
    index = { sizes: new Map(m.tensors.map((t) => [t.name, t.bytes])), caches: new Set(m.tensors.filter((t) => t.role === "kv-cache").map((t) => t.name)) };
    indexes.set(m, index);
  }
  return index;
}

export function sectionCost(
  span: SectionSpan, computeSeconds: number, memoryUnits: number, m: DataflowModule,
  tierOf: ReadonlyMap<string, TierName>, consumersOutside: (tensor: string) => boolean, target: Target,
  linkCost?: LinkCost,
): SectionCost {
  const curves = measuredCurves(target);
  if (curves) return measuredSectionCost(span, m, tierOf, target, curves, linkCost);
  const inSection = new Set(span.kernels.flatMap((k) => k.outputs));
  const bytes: Record<TierName, number> = { sram: 0, hbm: 0, ddr: 0 };
  const { sizes, caches } = tensorIndex(m);
  let streamBytes = 0;
  const device = span.kernels.filter((k) => KERNEL_KINDS[k.kind]?.device ?? true);
  for (const k of device) {
    for (const [tensor, read] of Object.entries(k.reads)) {
      const tier = tierOf.get(tensor);
      if (inSection.has(tensor) && !caches.has(tensor)) streamBytes += read;
      else if (tier) bytes[tier] += read;
    }
    for (const out of k.outputs) {
      const tier = tierOf.get(out);
      const size = sizes.get(out) ?? 0;
      if (caches.has(out)) {
        if (tier) bytes[tier] += cacheWrite(out, m);
      } else if (tier && consumersOutside(out)) bytes[tier] += size;
      else streamBytes += size;
    }
  }
  const published = dataflowEfficiency(target);
  const calls = published && device.length > 0 ? callCosts(span, m, published, target) : undefined;
  const hbmSeconds = bytes.hbm / (target.hbm.bandwidth * (calls?.hbmFraction ?? 1));
  const ddrSeconds = bytes.ddr / target.ddr.bandwidth;
  const sramBandwidth = Math.max(1, memoryUnits) * target.sram.bandwidthPerUnit;
  const sramSeconds = streamBytes / sramBandwidth;
  const launches = target.execution === "dataflow" ? (device.length > 0 ? 1 : 0) : device.length;
  const overheadSeconds = calls?.overheadSeconds ?? launches * target.overheads.launchSeconds + (device.length > 0 ? target.overheads.sectionSwitchSeconds : 0);
  // Collectives (node-level plans only): streamed ones overlap the other terms
  // and add only their latency; a collective kernel (NCCL) pays both.
  let link = 0, latency = 0;
  const collectives = linkCost ? device.map(linkCost).filter((c) => c !== undefined) : [];
  for (const c of collectives) {
    link += c.transferSeconds;
    latency += c.latencySeconds;
  }
  const streamed = target.node?.collectives !== "kernel";
  const linkTerm = streamed ? link : link + latency;
  const addedLatency = streamed ? latency : 0;
  const terms = { compute: computeSeconds, hbm: hbmSeconds, ddr: ddrSeconds, sram: sramSeconds, link: linkTerm } as const;
  let busiest: keyof typeof terms = "compute";
  for (const name of ["hbm", "ddr", "sram", "link"] as const) if (terms[name] > terms[busiest]) busiest = name;
  const busy = terms[busiest];
  const bound: SectionCost["bound"] = overheadSeconds > busy + addedLatency ? "overhead" : busiest;
  return {
    computeSeconds, hbmSeconds, ddrSeconds, sramSeconds, overheadSeconds,
    seconds: busy + addedLatency + overheadSeconds, bound, hbmBytes: bytes.hbm, ddrBytes: bytes.ddr,
    ...(collectives.length > 0 ? { linkSeconds: link, linkLatencySeconds: latency } : {}),
  };
}

/**
 * A dataflow section's share of HBM bandwidth and its call overhead: one program load
 * (sectionSwitchSeconds) and, per kernel call, an argument load and synchronisation
 * (launchSeconds). Looped, consecutive calls of one program are one call, and a section
 * continuing the loop of the one before pays nothing; a looped section streams at the
 * looped decoder's share.
 */
function callCosts(span: SectionSpan, m: DataflowModule, published: DataflowEfficiency, target: Target): { hbmFraction: number; overheadSeconds: number } {
  const c = sectionCalls(span, m);
  const loop = published.loop?.enabled === true ? published.loop : undefined;
  const { launchSeconds, sectionSwitchSeconds } = target.overheads;
  if (!loop) return { hbmFraction: published.hbmFraction, overheadSeconds: sectionSwitchSeconds + c.calls * launchSeconds };
  const looped = c.calls > 1 || c.continuesLoop || c.loopsOn;
  return {
    hbmFraction: looped ? loop.hbmFraction : published.hbmFraction,
    overheadSeconds: c.continuesLoop ? 0 : sectionSwitchSeconds + launchSeconds,
  };
}

/** Bytes of a key or value cache an attention kernel writes: the new tokens' rows ([batch, kv_heads, tokens, head_dim]). */
function cacheWrite(name: string, m: DataflowModule): number {
  const cache = m.tensors.find((t) => t.name === name);
  if (!cache) return 0;
  const tokens = cache.shape[2]!;
  return m.phase === "decode" ? cache.bytes / Math.max(1, tokens) : cache.bytes;
}

export interface Floor {
  readonly seconds: number;
  readonly bound: Prediction["floorBound"];
  readonly computeSeconds: number;
  readonly memorySeconds: number;
}

/** Roofline floor: every FLOP at peak, or every weight and KV byte once at HBM bandwidth. */
export function rooflineFloor(m: DataflowModule, target: Target): Floor {
  let compute = 0;
  for (const k of m.kernels) compute += k.flops / peakFlops(target, k.dtype);
  // Each weight byte a kernel needs, once (an embedding lookup needs only its rows); every KV cache read.
  const read = new Map<string, number>();
  for (const k of m.kernels) for (const [tensor, bytes] of Object.entries(k.reads)) read.set(tensor, (read.get(tensor) ?? 0) + bytes);
  let bytes = 0;
  for (const t of m.tensors) {
    const r = read.get(t.name) ?? 0;
    if (t.role === "weight" || t.role === "constant") bytes += Math.min(t.bytes, r);
    else if (t.role === "kv-cache") bytes += r;
  }
  const memory = bytes / target.hbm.bandwidth;
  return {
    seconds: Math.max(compute, memory), bound: compute >= memory ? "compute" : "weights",
    computeSeconds: compute, memorySeconds: memory,
  };
}

/** Tokens one pass processes: a decode step one per request, a prefill every prompt token (one item per request for a graph without tokens, an image model). */
export function tokensPerPass(m: DataflowModule, batch: number, seq: number, tokenAxis = true): number {
  return m.phase === "decode" || !tokenAxis ? batch : batch * seq;
}
