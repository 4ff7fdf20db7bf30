// What a target's `efficiency` section tells the cost model (targets/target.schema.json):
// measured curves, launch costs and the framework of a kernel-by-kernel target; the share of HBM
// bandwidth a dataflow target's sections reach and its looped decoder. The schema defines the
// fields; these readers give them their defaults.

import { fail } from "../../ir/diagnostics.js";
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

/** Whether the target plans the looped decoder (its repeated layers' calls as one). */
export function kernelLooping(t: Target): boolean {
  return dataflowEfficiency(t)?.loop?.enabled === true;
}

/**
 * The target with its looped decoder turned on (`--kernel-looping`): consecutive calls of one
 * program become one call streaming at the loop's share of HBM bandwidth (Kernel Looping, arXiv
 * 2410.23668). A target without the loop's figures is refused: turning on what it cannot price
 * would plan the unlooped chip under a looped name.
 */
export function withKernelLooping(t: Target): Target {
  const published = dataflowEfficiency(t);
  if (!published?.loop) {
    fail(`--kernel-looping: target '${t.name}' has no looped decoder to turn on (efficiency.dataflow.loop in its target file; the sn40l presets have one)`);
  }
  return { ...t, efficiency: { ...t.efficiency!, dataflow: { ...published, loop: { ...published.loop, enabled: true } } } };
}

/** How a phase's kernels are launched on a kernel-by-kernel target with a framework: a graph unless it says eager. */
export function launchMode(t: Target, phase: "prefill" | "decode"): LaunchMode {
  return frameworkOf(t)?.launch?.[phase] ?? "graph";
}
