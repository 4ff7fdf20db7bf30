// The target description: what a chip offers the compiler (compute units,
// on-chip SRAM, HBM, DDR, host link, overheads, a node's sockets and links,
// measured efficiency curves). A description only: reading and validating
// target files and the presets is targets/target.ts.

export type Execution = "dataflow" | "kernel-by-kernel";

/** How the sockets of a node are joined (targets/target.schema.json, `node`). */
export interface NodeSpec {
  readonly sockets: number;
  /** Per socket and direction (bytes/s); latency of one step of a collective (s). */
  readonly link: { readonly bandwidth: number; readonly latencySeconds: number };
  /** streamed: collectives are stages of a fused section (dataflow); kernel: each its own kernel (NCCL). */
  readonly collectives: "streamed" | "kernel";
  /** DDR or host -> HBM copies summed over the node (bytes/s). */
  readonly loadBandwidth: number;
}

/** What a curve's x measures: bytes a kernel moves, rows (M) of a matrix product, or FLOPs of a kernel. */
export type CurveAxis = "bytes" | "rows" | "flops";

/**
 * A measured efficiency curve (targets/target.schema.json, `efficiency.curves`): points [x, y] with
 * x strictly increasing; y is the fraction of hbm.bandwidth ("bandwidth") or of the bf16 peak
 * ("compute") a kernel of that size achieved.
 */
export interface EfficiencyCurve {
  readonly x: CurveAxis;
  readonly y: "bandwidth" | "compute";
  readonly points: readonly (readonly [number, number])[];
  /** Where and how the points were measured. */
  readonly source: string;
}

/** How the framework a kernel-by-kernel target's curves describe runs a model (`efficiency.framework`). */
export interface FrameworkSpec {
  readonly name: string;
  readonly source: string;
  /** Per phase: replayed from a CUDA graph (the default) or issued eagerly by the host. */
  readonly launch?: { readonly prefill?: LaunchMode; readonly decode?: LaunchMode };
  /** Seconds per kernel of a graph-replayed step whose kernels do next to no work: the least a kernel of the framework costs. */
  readonly graphKernelSeconds?: number;
  /** Host seconds per kernel of an eager forward, as the framework issues them. */
  readonly eagerKernelSeconds?: number;
  /** Host seconds of an eager forward outside its kernels' launches, before the first kernel. */
  readonly eagerForwardSeconds?: number;
  /** Grouped KV heads are copied to every query head before a multi-head attention kernel (repeat_kv). */
  readonly repeatKvHeads?: boolean;
  /** New keys and values reach the KV cache through copy kernels of their own. */
  readonly cacheWriteKernels?: boolean;
}

export type LaunchMode = "graph" | "eager";

/** What a dataflow chip's sections reach (`efficiency.dataflow`). */
export interface DataflowEfficiency {
  /** The largest share of hbm.bandwidth a section streams at. */
  readonly hbmFraction: number;
  /** The looped decoder: consecutive calls of one section as one call with a pipelined outer loop. */
  readonly loop?: { readonly enabled: boolean; readonly hbmFraction: number };
}

/**
 * What the cost model prices kernels and sections with beyond the peaks (targets/target.schema.json,
 * `efficiency`): a kernel-by-kernel target's measured curves, launch costs and framework; a
 * dataflow target's section efficiencies.
 */
export interface Efficiency {
  readonly source: string;
  /** By kernel class: elementwise, copy, reduction, gemv, gemm, attention-decode-mha, ... */
  readonly curves?: Readonly<Record<string, EfficiencyCurve>>;
  /** Seconds: a tiny kernel replayed from a CUDA graph, launched eagerly, and one graph launch waited for. */
  readonly launch?: { readonly graphKernelSeconds: number; readonly eagerKernelSeconds: number; readonly syncSeconds?: number };
  readonly framework?: FrameworkSpec;
  readonly dataflow?: DataflowEfficiency;
}

export interface Tier {
  readonly bytes: number;
  /** Bytes per second. */
  readonly bandwidth: number;
}

/**
 * A hardware target as the compiler and the cost model see it (a preset in targets/presets,
 * or a file following targets/target.schema.json): compute units and their rate, the SRAM,
 * HBM and DDR tiers, host bandwidth and overheads. See {@link loadTarget}.
 */
export interface Target {
  readonly name: string;
  readonly description: string;
  /** How kernels run: "dataflow" (sections of kernels streaming between units) or "kernel-by-kernel". */
  readonly execution: Execution;
  /** Compute units, their clock, and FLOPs per cycle per unit by dtype (f32 always given). */
  readonly compute: { readonly units: number; readonly clockHz: number; readonly flopsPerCycle: Readonly<Record<string, number>> };
  /** On-chip memory: units, bytes and bytes per second per unit. */
  readonly sram: { readonly units: number; readonly bytesPerUnit: number; readonly bandwidthPerUnit: number };
  readonly hbm: Tier;
  readonly ddr: Tier;
  /** Host link bandwidth, bytes per second. */
  readonly host: { readonly bandwidth: number };
  readonly overheads: { readonly launchSeconds: number; readonly sectionSwitchSeconds: number };
  /** Present for a node of several sockets; the other figures describe one socket. */
  readonly node?: NodeSpec;
  /** Measured efficiency curves (bench/device/measure_h100.py --calibrate); absent: peaks alone. */
  readonly efficiency?: Efficiency;
  /** Where the figures come from: figure -> citation. */
  readonly sources: Readonly<Record<string, string>>;
}

/** Peak FLOP/s for a dtype (f32 rate when the dtype has none). */
export function peakFlops(t: Target, dtype: string): number {
  const perCycle = t.compute.flopsPerCycle[dtype] ?? t.compute.flopsPerCycle.f32!;
  return t.compute.units * t.compute.clockHz * perCycle;
}

export function sramBytes(t: Target): number {
  return t.sram.units * t.sram.bytesPerUnit;
}

/** Sockets of the target: 1 unless it describes a node. */
export function socketCount(t: Target): number {
  return t.node?.sockets ?? 1;
}
