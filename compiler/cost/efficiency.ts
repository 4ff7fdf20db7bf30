// What a target's `efficiency` section tells the cost model (targets/target.schema.json):
// measured curves, launch costs and the framework of a kernel-by-kernel target; the share of HBM
// bandwidth a dataflow target's sections reach and its looped decoder. The schema defines the
// fields; these readers give them their defaults.

import type { DataflowEfficiency, EfficiencyCurve, FrameworkSpec, LaunchMode, Target } from "../../ir/target.js";

export type { DataflowEfficiency, FrameworkSpec, LaunchMode } from "../../ir/target.js";

const section = (t: Target) => t.efficiency;

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
