// A section's cost on a kernel-by-kernel target with measured efficiency curves: each device
// kernel at its curve (kernel-time.ts), launched as the target's framework launches the phase
// (launch.ts). Replayed from a CUDA graph a kernel costs its curve time, which includes the
// graph's per-kernel cost; issued eagerly, it costs its share of the host/device pipeline.
// Collectives (node-level plans) keep the link cost of the roofline model: a kernel each.

import type { DataflowModule, DfKernel } from "../../ir/dataflow/dataflow.js";
import { tensorMap } from "../../ir/dataflow/dataflow.js";
import { KERNEL_KINDS } from "../../ir/dataflow/kinds.js";
import type { Plan, SectionCost, TierName } from "../../ir/placement/plan.js";
import type { EfficiencyCurve, Target } from "../../targets/target.js";
import type { SectionSpan } from "../schedule/sections.js";
import type { LinkCost } from "./cost-model.js";
import { frameworkOf, launchMode } from "./efficiency.js";
import type { KernelContext, KernelTime } from "./kernel-time.js";
import { kernelTime } from "./kernel-time.js";
import { eagerShares, PerModule } from "./launch.js";

const isDevice = (k: DfKernel) => (KERNEL_KINDS[k.kind]?.device ?? true) && k.kind !== "collective";

interface ModuleTimes {
  readonly context: KernelContext;
  readonly times: ReadonlyMap<string, KernelTime>;
  /** Eager phases: each kernel's share of the forward. */
  readonly eager?: ReadonlyMap<string, number>;
}

const timesCache = new PerModule<ReadonlyMap<string, TierName>, ModuleTimes>();

/** Every device kernel's time in the module, once per placement; and the eager pipeline where the phase runs eagerly. */
function moduleTimes(m: DataflowModule, tierOf: ReadonlyMap<string, TierName>, target: Target, curves: Readonly<Record<string, EfficiencyCurve>>): ModuleTimes {
  return timesCache.get(m, tierOf, () => {
    const framework = frameworkOf(target);
    const context: KernelContext = { m, tensors: tensorMap(m), tierOf, target, curves, framework };
    const times = new Map<string, KernelTime>();
    for (const k of m.kernels) if (isDevice(k)) times.set(k.name, kernelTime(k, context));
    if (launchMode(target, m.phase) !== "eager") return { context, times };
    const perKernel = framework?.eagerKernelSeconds ?? target.efficiency?.launch?.eagerKernelSeconds ?? target.overheads.launchSeconds;
    const launched = m.kernels.filter(isDevice).map((k) => ({ name: k.name, deviceSeconds: times.get(k.name)!.seconds, launches: times.get(k.name)!.launches }));
    return { context, times, eager: eagerShares(launched, perKernel, framework?.eagerForwardSeconds ?? 0) };
  });
}

export function measuredSectionCost(
  span: SectionSpan, m: DataflowModule, tierOf: ReadonlyMap<string, TierName>, target: Target,
  curves: Readonly<Record<string, EfficiencyCurve>>, linkCost?: LinkCost,
): SectionCost {
  const { times, eager } = moduleTimes(m, tierOf, target, curves);
  const device = span.kernels.filter(isDevice);
  let compute = 0, memory = 0, busy = 0, hbmBytes = 0, ddrBytes = 0, share = 0;
  for (const k of device) {
    const t = times.get(k.name)!;
    compute += t.computeSeconds;
    memory += t.memorySeconds;
    busy += t.seconds;
    hbmBytes += t.hbmBytes;
    ddrBytes += t.ddrBytes;
    share += eager?.get(k.name) ?? t.seconds;
  }
  // Waiting for the host (eager launch) is overhead; so is a graph's per-kernel cost, inside the curves' times.
  const overheadSeconds = Math.max(0, share - busy);
  let link = 0, latency = 0;
  const collectives = linkCost ? span.kernels.filter((k) => k.kind === "collective").map(linkCost).filter((c) => c !== undefined) : [];
  for (const c of collectives) {
    link += c.transferSeconds;
    latency += c.latencySeconds;
  }
  const linkTerm = collectives.length > 0 ? link + latency + target.overheads.launchSeconds * collectives.length : 0;
  const ddrSeconds = ddrBytes / target.ddr.bandwidth;
  const hbmSeconds = memory;
  const terms = { compute, hbm: hbmSeconds, ddr: ddrSeconds, link: linkTerm } as const;
  let bound: SectionCost["bound"] = "compute";
  for (const name of ["hbm", "ddr", "link"] as const) if (terms[name] > terms[bound as keyof typeof terms]) bound = name;
  if (overheadSeconds > busy) bound = "overhead";
  return {
    computeSeconds: compute, hbmSeconds, ddrSeconds, sramSeconds: 0, overheadSeconds,
    seconds: share + linkTerm, bound, hbmBytes, ddrBytes,
    ...(collectives.length > 0 ? { linkSeconds: link, linkLatencySeconds: latency } : {}),
  };
}

/** Each device kernel's time in a plan compiled for `target` (a kernel-by-kernel target with curves), by kernel name. */
export function planKernelTimes(plan: Plan, target: Target, curves: Readonly<Record<string, EfficiencyCurve>>): ReadonlyMap<string, KernelTime> {
  const tierOf = new Map(plan.allocations.map((a) => [a.tensor, a.tier]));
  return moduleTimes(plan.dataflow, tierOf, target, curves).times;
}
