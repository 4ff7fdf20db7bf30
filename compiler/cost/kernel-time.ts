// One kernel's time on a kernel-by-kernel target with measured efficiency curves.
//
// Algorithm: the kernel's class comes from its dataflow kind (ir/dataflow/kinds.ts) and its
// operands; its time is the work over the curve's efficiency at the kernel's size:
//   matmul with a weight        gemm.k<K>.n<N> (FLOP/s against rows M) where that shape was
//                               measured, else the larger of the averaged gemm curve and the
//                               weight bytes at the gemv curve's bandwidth
//   attention, decode           K + V bytes at attention-decode-mha or -gqa's bandwidth
//   attention, prefill          FLOPs (the causal half for a decoder) at attention-prefill's rate
//   matmul over a KV cache      its share of a decode attention (-O0's score and context kernels)
//   norm, softmax               bytes moved at the reduction curve
//   elementwise                 bytes moved at the elementwise (two operands) or
//                               elementwise-unary curve
//   layout, gather, cache       bytes moved at the copy curve
// and, where the target's framework says so, the kernels the framework adds: grouped KV heads
// copied to every query head (repeat-kv curve) and read by a multi-head attention kernel, and the
// new keys and values copied into the cache (copy curve). Each curve's time includes the
// per-kernel cost it was measured with (graph replay of independent calls), so no launch cost is
// added here. A model's kernels form a chain, each waiting for the one before: every kernel pays
// the difference between the framework's smallest kernel in that chain (graphKernelSeconds of
// efficiency.framework: a decoder's kernels replayed at negligible size) and an independent tiny
// kernel replayed from a graph (graphKernelSeconds of efficiency.launch), on top of the larger of
// its curve time and that independent kernel's.
// Source: the issue-17 microbenchmarks (bench/device/measure_h100.py, measure_framework.py).
// Known weakness: a class's curve was measured at a few shapes (Llama's); other shapes take its
// efficiency at their size, and a kernel whose class has no curve falls back to the peaks.

import type { DataflowModule, DfKernel, DfTensor } from "../../ir/dataflow/dataflow.js";
import type { TierName } from "../../ir/placement/plan.js";
import type { EfficiencyCurve, Target } from "../../targets/target.js";
import { peakFlops } from "../../targets/target.js";
import { curveSeconds } from "./curves.js";
import type { FrameworkSpec } from "./efficiency.js";

/** A kernel's predicted device time and what it is made of. */
export interface KernelTime {
  readonly seconds: number;
  /** The compute term (FLOPs at the curve's or the peak's rate) and the HBM term (bytes at the curve's bandwidth); DDR bytes go at its peak. */
  readonly computeSeconds: number;
  readonly memorySeconds: number;
  /** Bytes the kernel moves in HBM and in DDR (reads, and writes of its outputs). */
  readonly hbmBytes: number;
  readonly ddrBytes: number;
  /** Kernels the framework launches for it (1, or more where it adds copies). */
  readonly launches: number;
  /** Seconds of the copies the framework adds (repeated KV heads, cache writes), inside `seconds`. */
  readonly copySeconds: number;
  /** The curve it was priced by ("peak" where no curve applies). */
  readonly curve: string;
}

export interface KernelContext {
  readonly m: DataflowModule;
  readonly tensors: ReadonlyMap<string, DfTensor>;
  readonly tierOf: ReadonlyMap<string, TierName>;
  readonly target: Target;
  readonly curves: Readonly<Record<string, EfficiencyCurve>>;
  readonly framework: FrameworkSpec | undefined;
}

/** Bytes of a key or value cache a kernel writes: the new tokens' rows in decode ([batch, kv_heads, tokens, head_dim]), all of it in prefill. */
export function cacheWriteBytes(cache: DfTensor, phase: DataflowModule["phase"]): number {
  const tokens = cache.shape[2]!;
  return phase === "decode" ? cache.bytes / Math.max(1, tokens) : cache.bytes;
}

const product = (shape: readonly number[]) => shape.reduce((p, d) => p * d, 1);

/** Bytes a kernel reads and writes, split by tier (a tensor with no tier is taken to be in HBM). */
function traffic(k: DfKernel, c: KernelContext): { hbm: number; ddr: number } {
  let hbm = 0, ddr = 0;
  const add = (tensor: string, bytes: number) => {
    if (c.tierOf.get(tensor) === "ddr") ddr += bytes;
    else hbm += bytes;
  };
  for (const [tensor, bytes] of Object.entries(k.reads)) add(tensor, bytes);
  for (const out of k.outputs) {
    const t = c.tensors.get(out);
    if (!t) continue;
    add(out, t.role === "kv-cache" ? cacheWriteBytes(t, c.m.phase) : t.bytes);
  }
  return { hbm, ddr };
}

interface Priced {
  readonly compute: number;
  readonly memory: number;
  /** Device seconds when they are not the larger of the two terms (a measured kernel's own time). */
  readonly seconds?: number;
  readonly launches?: number;
  readonly copySeconds?: number;
  readonly curve: string;
}

/** The device time of kernel `k` from the target's curves. */
export function kernelTime(k: DfKernel, c: KernelContext): KernelTime {
  const { hbm, ddr } = traffic(k, c);
  const priced = price(k, c, hbm + ddr);
  const ddrSeconds = ddr / c.target.ddr.bandwidth;
  const copies = priced.copySeconds ?? 0;
  // Each kernel of the chain, the framework's added copies too (addedCopy), waits for the one before.
  const own = inChain((priced.seconds ?? Math.max(priced.compute, priced.memory)) - copies, c);
  return {
    seconds: Math.max(own + copies, ddrSeconds), computeSeconds: priced.compute, memorySeconds: priced.memory,
    hbmBytes: hbm, ddrBytes: ddr, launches: priced.launches ?? 1, copySeconds: priced.copySeconds ?? 0, curve: priced.curve,
  };
}

function price(k: DfKernel, c: KernelContext, bytes: number): Priced {
  switch (k.kind) {
    case "matmul": return matmul(k, c, bytes);
    case "attention": return attention(k, c, bytes);
    case "norm": case "softmax": return bandwidthBound(k, c, bytes, "reduction");
    case "elementwise": return bandwidthBound(k, c, bytes, operands(k) >= 2 ? "elementwise" : "elementwise-unary");
    case "layout": case "gather": case "cache": return bandwidthBound(k, c, bytes, "copy");
    default: return bandwidthBound(k, c, bytes, "copy");
  }
}

/** Inputs of a pointwise kernel that are more than a scalar: a binary op reads two such streams. */
function operands(k: DfKernel): number {
  return Object.values(k.reads).filter((b) => b > 8).length;
}

const hbmPeak = (c: KernelContext) => c.target.hbm.bandwidth;
const flopPeak = (k: DfKernel, c: KernelContext) => peakFlops(c.target, k.dtype);

/** Bytes at a bandwidth curve (the peak where the target has none); FLOPs at the peak. */
function bandwidthBound(k: DfKernel, c: KernelContext, bytes: number, name: string): Priced {
  const curve = c.curves[name];
  const compute = k.flops / flopPeak(k, c);
  if (!curve) return { compute, memory: bytes / hbmPeak(c), curve: "peak" };
  return { compute, memory: curveSeconds(curve, bytes, bytes, hbmPeak(c)), curve: name };
}

/** A copy the framework adds (repeat_kv, a cache write): its bytes moved at a curve's bandwidth. */
function addedCopy(c: KernelContext, bytes: number, name: string): number {
  const curve = c.curves[name] ?? c.curves.copy;
  const seconds = curve ? curveSeconds(curve, bytes, bytes, hbmPeak(c)) : bytes / hbmPeak(c);
  return inChain(seconds, c);
}

/**
 * A kernel of `seconds` on its own, run in the framework's chain of dependent kernels: at least an
 * independent tiny kernel's time, plus what waiting for the kernel before costs (the framework's
 * smallest dependent kernel less an independent one; both measured, none where either is missing,
 * the framework's smallest kernel then being the floor).
 */
function inChain(seconds: number, c: KernelContext): number {
  const dependent = c.framework?.graphKernelSeconds;
  const independent = c.target.efficiency?.launch?.graphKernelSeconds;
  if (dependent === undefined) return seconds;
  if (independent === undefined) return Math.max(seconds, dependent);
  return Math.max(seconds, independent) + Math.max(0, dependent - independent);
}

function matmul(k: DfKernel, c: KernelContext, bytes: number): Priced {
  const a = c.tensors.get(k.inputs[0]!);
  const weight = k.inputs.map((i) => c.tensors.get(i)).find((t) => t !== undefined && (t.role === "weight" || t.role === "constant") && t.shape.length === 2);
  const out = c.tensors.get(k.outputs[0]!);
  const cache = k.inputs.map((i) => c.tensors.get(i)).find((t) => t !== undefined && t.role === "kv-cache" && (k.reads[t.name] ?? 0) > 0);
  if (cache && a) return cachedAttentionPart(k, c, cache, a);
  if (!a || !out || !weight) {
    // A product of activations: the averaged GEMM curve at its rows, or the peaks.
    const rows = a && a.shape.length >= 2 ? a.shape[a.shape.length - 2]! : 1;
    const gemm = c.curves.gemm;
    const compute = gemm ? curveSeconds(gemm, rows, k.flops, flopPeak(k, c)) : k.flops / flopPeak(k, c);
    const copy = c.curves.copy;
    return { compute, memory: copy ? curveSeconds(copy, bytes, bytes, hbmPeak(c)) : bytes / hbmPeak(c), curve: gemm ? "gemm" : "peak" };
  }
  const K = a.shape[a.shape.length - 1]!, N = out.shape[out.shape.length - 1]!;
  const M = Math.max(1, Math.round(product(a.shape) / Math.max(1, K)));
  const weightBytes = k.reads[weight.name] ?? weight.bytes;
  const gemv = c.curves.gemv;
  const memory = gemv ? curveSeconds(gemv, weightBytes, bytes, hbmPeak(c)) : bytes / hbmPeak(c);
  const shaped = c.curves[`gemm.k${K}.n${N}`];
  if (shaped) {
    // Measured at this shape: the curve's time is the kernel's, whatever bounds it.
    const seconds = curveSeconds(shaped, M, k.flops, flopPeak(k, c));
    return { compute: seconds, memory, seconds, curve: `gemm.k${K}.n${N}` };
  }
  const gemm = c.curves.gemm;
  const compute = gemm ? curveSeconds(gemm, M, k.flops, flopPeak(k, c)) : k.flops / flopPeak(k, c);
  return { compute, memory, curve: gemm ? "gemm" : gemv ? "gemv" : "peak" };
}

/** Query and KV heads of an attention whose queries (or scores) are [batch, heads, ...] and whose keys are [batch, kv_heads, ...]. */
function heads(q: DfTensor, kv: DfTensor): { heads: number; kvHeads: number } {
  return { heads: q.shape[1] ?? 1, kvHeads: kv.shape[1] ?? 1 };
}

/**
 * Decode attention over K + V bytes of KV heads: a multi-head kernel at the mha curve; grouped
 * heads at the gqa curve, or, where the framework repeats them, two copies to every query head
 * (keys and values) and the mha curve over the repeated bytes. `share` is the part of the
 * attention this kernel is (1 fused; the score or context kernel of -O0 one half each, with one copy).
 */
function decodeAttention(c: KernelContext, kvBytes: number, h: { heads: number; kvHeads: number }, share: number): { seconds: number; launches: number; copySeconds: number; curve: string } {
  const groups = Math.max(1, Math.round(h.heads / Math.max(1, h.kvHeads)));
  const repeat = groups > 1 && c.framework?.repeatKvHeads === true;
  const name = groups > 1 && !repeat ? "attention-decode-gqa" : "attention-decode-mha";
  const read = repeat ? kvBytes * groups : kvBytes;
  const curve = c.curves[name];
  const seconds = curve ? curveSeconds(curve, read, read * share, hbmPeak(c)) : (read * share) / hbmPeak(c);
  let launches = 1, copySeconds = 0;
  if (repeat) {
    // One copy each of keys and values: half the KV heads' bytes read, groups times that written.
    const copies = Math.round(2 * share);
    copySeconds = copies * addedCopy(c, (kvBytes / 2) * (1 + groups), "repeat-kv");
    launches += copies;
  }
  return { seconds: seconds + copySeconds, launches, copySeconds, curve: repeat ? `${name}+repeat-kv` : name };
}

/** -O0's score or context product over a KV cache: its half of a decode attention (a framework's attention kernel reads both). */
function cachedAttentionPart(k: DfKernel, c: KernelContext, cache: DfTensor, a: DfTensor): Priced {
  const h = heads(a, cache);
  const d = decodeAttention(c, 2 * cache.bytes, h, 0.5);
  const write = cacheWrites(k, c);
  return { compute: k.flops / flopPeak(k, c), memory: d.seconds + write.seconds, launches: d.launches + write.launches, copySeconds: d.copySeconds + write.seconds, curve: d.curve };
}

/** The copies a framework runs to put new keys and values in the cache, where the attention kernel writes none. */
function cacheWrites(k: DfKernel, c: KernelContext): { seconds: number; launches: number } {
  if (c.framework?.cacheWriteKernels !== true) return { seconds: 0, launches: 0 };
  let seconds = 0, launches = 0;
  for (const out of k.outputs) {
    const t = c.tensors.get(out);
    if (t?.role !== "kv-cache") continue;
    seconds += addedCopy(c, 2 * cacheWriteBytes(t, c.m.phase), "copy");
    launches++;
  }
  return { seconds, launches };
}

function attention(k: DfKernel, c: KernelContext, bytes: number): Priced {
  const q = c.tensors.get(k.inputs[0]!), key = c.tensors.get(k.inputs[1]!), value = c.tensors.get(k.inputs[2]!);
  if (!q || !key || !value || q.shape.length !== 4) return bandwidthBound(k, c, bytes, "copy");
  const h = heads(q, key);
  const caches = k.inputs.map((i) => c.tensors.get(i)).filter((t): t is DfTensor => t !== undefined && t.role === "kv-cache");
  const owned = k.outputs.some((o) => c.tensors.get(o)?.role === "kv-cache");
  const write = cacheWrites(k, c);
  const queries = q.shape[2]!;
  if (queries === 1 && (caches.length > 0 || key.role === "kv-cache")) {
    // Decode: the kernel reads the keys and values of every token so far.
    const kvBytes = (k.reads[key.name] ?? 0) + (k.reads[value.name] ?? 0) + caches.reduce((s, t) => s + (k.reads[t.name] ?? 0), 0);
    const d = decodeAttention(c, kvBytes, h, 1);
    return { compute: k.flops / flopPeak(k, c), memory: d.seconds + write.seconds, launches: d.launches + write.launches, copySeconds: d.copySeconds + write.seconds, curve: d.curve };
  }
  // Prefill: FLOPs of the products (the causal half for a decoder's, which keeps a cache) at the prefill curve.
  const [batch, , , headDim] = q.shape as [number, number, number, number];
  const keys = key.shape[2]!, valueDim = value.shape[3]!;
  const products = 2 * batch * h.heads * queries * keys * (headDim + valueDim);
  const causal = owned || key.role === "kv-cache";
  const flops = causal ? products / 2 : products;
  const curve = c.curves["attention-prefill"];
  const compute = curve ? curveSeconds(curve, flops, flops, flopPeak(k, c)) : flops / flopPeak(k, c);
  let launches = 1 + write.launches, copySeconds = write.seconds;
  const groups = Math.max(1, Math.round(h.heads / Math.max(1, h.kvHeads)));
  if (groups > 1 && c.framework?.repeatKvHeads === true) {
    for (const t of [key, value]) copySeconds += addedCopy(c, (k.reads[t.name] ?? t.bytes) * (1 + groups), "repeat-kv");
    launches += 2;
  }
  return { compute: compute + copySeconds, memory: bytes / hbmPeak(c), launches, copySeconds, curve: curve ? "attention-prefill" : "peak" };
}
