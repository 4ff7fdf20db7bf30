// Verifier of a node-level plan's `parallel` part. verifyPlan has already
// checked every tier at every section against one socket's capacity; here the
// stages must cover the sections in order, each allocation must live inside
// one stage (so the per-section check is a check of that stage's sockets),
// each stage's peak must fit its sockets, sockets must exist and run one stage
// each, and shards and collectives must name what the program holds.

import { fail } from "../diagnostics.js";
import type { Target } from "../target.js";
import { sramBytes } from "../target.js";
import type { Plan, TierName } from "./plan.js";

function tierCapacity(target: Target, tier: TierName): number {
  return tier === "sram" ? sramBytes(target) : target[tier].bytes;
}

export function verifyParallel(plan: Plan, target: Target): void {
  const p = plan.parallel;
  if (!p) return;
  const sockets = target.node?.sockets ?? 1;
  if (p.sockets !== sockets) fail(`parallel plan is for ${p.sockets} sockets; ${target.name} has ${sockets}`);
  const { tp, pp, ep, dp } = p.layout;
  const group = Math.max(tp, ep);
  if (group * pp * dp > sockets) fail(`layout tp=${tp},pp=${pp},ep=${ep},dp=${dp} needs ${group * pp * dp} sockets; ${target.name} has ${sockets}`);
  if (p.stages.length !== pp) fail(`layout has pp=${pp} but the plan lists ${p.stages.length} stages`);
  const owner = new Map<number, number>();
  let next = 0;
  p.stages.forEach((s, i) => {
    if (s.firstSection !== next || s.lastSection < s.firstSection) {
      fail(`stage ${i} runs sections ${s.firstSection}..${s.lastSection}; stages must cover the sections in order from ${next}`);
    }
    next = s.lastSection + 1;
    if (s.sockets.length !== group * dp) fail(`stage ${i} runs on ${s.sockets.length} sockets; the layout gives each stage ${group * dp}`);
    for (const socket of s.sockets) {
      if (!Number.isInteger(socket) || socket < 0 || socket >= sockets) fail(`stage ${i} names socket ${socket}; ${target.name} has sockets 0..${sockets - 1}`);
      if (owner.has(socket)) fail(`socket ${socket} runs both stage ${owner.get(socket)} and stage ${i}`);
      owner.set(socket, i);
    }
    for (const tier of ["sram", "hbm", "ddr"] as TierName[]) {
      if (s.occupancy[tier] > tierCapacity(target, tier)) {
        fail(`${tier} over capacity on the sockets of stage ${i}: ${s.occupancy[tier]} bytes at the peak, the tier holds ${tierCapacity(target, tier)}`);
      }
    }
  });
  if (next !== plan.sections.length) fail(`stages cover sections 0..${next - 1}; the plan has ${plan.sections.length}`);
  const stageOf = (section: number) => p.stages.findIndex((s) => s.firstSection <= section && section <= s.lastSection);
  for (const a of plan.allocations) {
    if (stageOf(a.firstSection) !== stageOf(a.lastSection)) {
      fail(`allocation of '${a.tensor}' lives over sections ${a.firstSection}..${a.lastSection}, across stages ${stageOf(a.firstSection)} and ${stageOf(a.lastSection)}: each stage holds its own memory`);
    }
  }
  const tensors = new Map(plan.dataflow.tensors.map((t) => [t.name, t]));
  for (const s of p.shards) {
    const t = tensors.get(s.tensor);
    if (!t) fail(`shard names '${s.tensor}', which is not a tensor of the plan`);
    if (s.axis >= t.shape.length) fail(`shard of '${s.tensor}' splits axis ${s.axis}; the tensor has rank ${t.shape.length}`);
    if (group % s.parts !== 0) fail(`shard of '${s.tensor}' has ${s.parts} parts, which do not divide the group of ${group} sockets`);
  }
  const kernels = new Map(plan.dataflow.kernels.map((k) => [k.name, k]));
  for (const c of p.collectiveKernels) {
    if (kernels.get(c.kernel)?.kind !== "collective") fail(`collective '${c.kernel}' is not a kernel of kind "collective" in the plan`);
    if (c.sockets > group) fail(`collective '${c.kernel}' spans ${c.sockets} sockets; the group has ${group}`);
  }
  for (const s of p.sends) {
    if (s.fromStage >= s.toStage || s.toStage >= pp) fail(`send of '${s.tensor}' goes from stage ${s.fromStage} to stage ${s.toStage}; sends go forward between the ${pp} stages`);
  }
}
