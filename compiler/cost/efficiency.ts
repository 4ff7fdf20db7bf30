// What a target's `efficiency` section tells the cost model (targets/target.schema.json):
// measured curves, launch costs and the framework of a kernel-by-kernel target; the share of HBM
// bandwidth a dataflow target's sections reach and its looped decoder. The schema defines the
// fields; these readers give them their defaults.

import type { EfficiencyCurve, Target } from "../../targets/target.js";

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

interface EfficiencySection {
  readonly curves?: Readonly<Record<string, EfficiencyCurve>>;
  readonly framework?: FrameworkSpec;
  readonly dataflow?: DataflowEfficiency;
}

const section = (t: Target): EfficiencySection | undefined => t.efficiency as EfficiencySection | undefined;

/** The measured curves of a kernel-by-kernel target, or undefined: then the cost model prices by the peaks. */
export function measuredCurves(t: Target): Readonly<Record<string, EfficiencyCurve>> | undefined {
  const curves = section(t)?.curves;
  return t.execution === "kernel-by-kernel" && curves && Object.keys(curves).length > 0 ? curves : undefined;
}

export function frameworkOf(t: Target): FrameworkSpec | undefined {
  return section(t)?.framework;
}

/** The section efficiencies of a dataflow target, or undefined. */
export function dataflowEfficiency(t: Target): DataflowEfficiency | undefined {
  return t.execution === "dataflow" ? section(t)?.dataflow : undefined;
}

/** How a phase's kernels are launched on a kernel-by-kernel target with a framework: a graph unless it says eager. */
export function launchMode(t: Target, phase: "prefill" | "decode"): LaunchMode {
  return frameworkOf(t)?.launch?.[phase] ?? "graph";
}
