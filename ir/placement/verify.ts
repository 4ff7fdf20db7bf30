// Placement-level verifier. Proves no tier is ever over capacity: at every
// section the allocations live in a tier fit inside it, and no two allocations
// live at the same time overlap in address. Every tensor a kernel reads from
// memory is allocated; sections fit the chip's units. Errors name the tier,
// the tensor and the bytes. A node-level plan's `parallel` part is checked by
// verify-parallel.ts.

import type { Plan, TierName } from "./plan.js";
import { fail } from "../diagnostics.js";
import type { Target } from "../target.js";
import { sramBytes } from "../target.js";
import { verifyParallel } from "./verify-parallel.js";
import { ownValue } from "../name-record.js";
import { indexBy } from "../dataflow/dataflow.js";

export function tierCapacity(target: Target, tier: TierName): number {
  return tier === "sram" ? sramBytes(target) : target[tier].bytes;
}

export function verifyPlan(plan: Plan, target: Target): void {
  if (plan.target !== target.name) fail(`plan is for target '${plan.target}', not '${target.name}'`);
  const sections = plan.sections.length;
  const byTier = new Map<TierName, Plan["allocations"][number][]>();
  for (const a of plan.allocations) {
    const cap = tierCapacity(target, a.tier);
    if (!(a.bytes >= 0) || !(a.offset >= 0)) fail(`${a.tier}: allocation of '${a.tensor}' has a negative offset or size`);
    if (a.offset + a.bytes > cap) {
      fail(`${a.tier} over capacity: '${a.tensor}' occupies bytes ${a.offset}..${a.offset + a.bytes}, the tier holds ${cap}`);
    }
    if (a.firstSection < 0 || a.lastSection >= Math.max(1, sections) || a.firstSection > a.lastSection) {
      fail(`${a.tier}: allocation of '${a.tensor}' lives over sections ${a.firstSection}..${a.lastSection}, the plan has ${sections}`);
    }
    if (!byTier.has(a.tier)) byTier.set(a.tier, []);
    byTier.get(a.tier)!.push(a);
  }
  for (const [tier, list] of byTier) {
    const cap = tierCapacity(target, tier);
    for (let s = 0; s < Math.max(1, sections); s++) {
      // An empty tensor (a zero-width slice) occupies no byte, so it overlaps nothing.
      const live = list.filter((a) => a.firstSection <= s && s <= a.lastSection && a.bytes > 0).sort((x, y) => x.offset - y.offset);
      let total = 0;
      for (let i = 0; i < live.length; i++) {
        total += live[i]!.bytes;
        const next = live[i + 1];
        if (next && live[i]!.offset + live[i]!.bytes > next.offset) {
          fail(`${tier}: '${live[i]!.tensor}' (${live[i]!.bytes} bytes at ${live[i]!.offset}) overlaps '${next.tensor}' (at ${next.offset}) in section ${s}`);
        }
      }
      if (total > cap) fail(`${tier} over capacity in section ${s}: ${total} bytes live, the tier holds ${cap} (largest: '${live.sort((x, y) => y.bytes - x.bytes)[0]!.tensor}')`);
    }
  }
  const allocated = new Set(plan.allocations.map((a) => a.tensor));
  // A view's output lives in its input's allocation.
  for (const k of plan.dataflow.kernels) if (k.kind === "view" && k.inputs[0] && allocated.has(k.inputs[0])) for (const o of k.outputs) allocated.add(o);
  const kernels = indexBy(plan.dataflow.kernels, (k) => k.name);
  plan.sections.forEach((s, i) => {
    if (s.computeUnits > target.compute.units) fail(`section ${i} uses ${s.computeUnits} compute units; ${target.name} has ${target.compute.units}`);
    if (s.memoryUnits > target.sram.units) fail(`section ${i} uses ${s.memoryUnits} memory units; ${target.name} has ${target.sram.units}`);
    const inSection = new Set(s.kernels.flatMap((k) => kernels.get(k.kernel)?.outputs ?? []));
    for (const ka of s.kernels) {
      const k = kernels.get(ka.kernel);
      if (!k) fail(`section ${i} names unknown kernel ${ka.kernel}`);
      for (const input of k.inputs) {
        if (!inSection.has(input) && !allocated.has(input) && ownValue(k.reads, input) !== undefined) {
          fail(`kernel ${k.name} in section ${i} reads '${input}', which is in no tier`);
        }
      }
    }
  });
  verifyParallel(plan, target);
}
