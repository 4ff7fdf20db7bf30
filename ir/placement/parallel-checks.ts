// What the parallel executor relies on in a plan's `parallel` part, checked
// before any socket is loaded, each failure one line. readPlan's verifier
// (ir/placement/verify-parallel.ts) checks most of it for a plan read from
// disk; a plan handed over in memory gets the same answers here, plus what
// only execution needs: every collective kernel listed with its group, sends
// arriving at the first section of the stage they go to.

import type { ParallelPlan, Plan } from "./plan.js";
import { fail } from "../diagnostics.js";

/** Sockets of one tensor/expert-parallel group. */
export function groupOf(p: ParallelPlan): number {
  return Math.max(p.layout.tp, p.layout.ep);
}

export function checkParallelPlan(plan: Plan): ParallelPlan {
  const p = plan.parallel;
  if (!p) fail("the plan has no parallel part");
  const { tp, pp, ep, dp, microBatches } = p.layout;
  for (const [key, v] of Object.entries({ tp, pp, ep, dp, mb: microBatches })) {
    if (!Number.isSafeInteger(v) || v < 1) fail(`parallel layout: ${key} is ${v}, not a positive integer`);
  }
  const group = groupOf(p);
  if (p.stages.length !== pp) fail(`parallel layout has pp=${pp} but the plan lists ${p.stages.length} stages`);
  const owner = new Map<number, number>();
  let next = 0;
  p.stages.forEach((s, i) => {
    if (s.firstSection !== next || s.lastSection < s.firstSection || s.lastSection >= plan.sections.length) {
      fail(`stage ${i} runs sections ${s.firstSection}..${s.lastSection}; stages must cover the plan's ${plan.sections.length} sections in order`);
    }
    next = s.lastSection + 1;
    if (s.sockets.length !== group * dp) fail(`stage ${i} runs on ${s.sockets.length} sockets; dp=${dp} groups of ${group} need ${group * dp}`);
    for (const socket of s.sockets) {
      if (!Number.isSafeInteger(socket) || socket < 0 || socket >= p.sockets) fail(`stage ${i} names socket ${socket}; the node has sockets 0..${p.sockets - 1}`);
      if (owner.has(socket)) fail(`socket ${socket} runs both stage ${owner.get(socket)} and stage ${i}`);
      owner.set(socket, i);
    }
  });
  if (next !== plan.sections.length) fail(`stages cover sections 0..${next - 1}; the plan has ${plan.sections.length}`);
  const tensors = new Map(plan.dataflow.tensors.map((t) => [t.name, t]));
  for (const s of p.shards) {
    const t = tensors.get(s.tensor);
    if (!t) fail(`shard names '${s.tensor}', which is not a tensor of the plan`);
    if (!Number.isSafeInteger(s.axis) || s.axis < 0 || s.axis >= t.shape.length) fail(`shard of '${s.tensor}' splits axis ${s.axis}; the tensor has rank ${t.shape.length}`);
    if (!Number.isSafeInteger(s.parts) || s.parts < 1 || group % s.parts !== 0) fail(`shard of '${s.tensor}' has ${s.parts} parts, which do not divide the group of ${group} sockets`);
  }
  const listed = new Map(p.collectiveKernels.map((c) => [c.kernel, c]));
  for (const k of plan.dataflow.kernels) {
    if (k.kind !== "collective") continue;
    const c = listed.get(k.name);
    if (!c) fail(`kernel ${k.name} is a collective the plan's parallel part does not list`);
    if (c.sockets !== group) fail(`collective '${k.name}' spans ${c.sockets} sockets (0..${c.sockets - 1} of its group); the group has ${group} (0..${group - 1})`);
  }
  for (const c of p.collectiveKernels) {
    if (!plan.dataflow.kernels.some((k) => k.name === c.kernel && k.kind === "collective")) fail(`collective '${c.kernel}' is not a kernel of kind "collective" in the plan`);
  }
  for (const s of p.sends) {
    const to = p.stages[s.toStage];
    if (!to || s.fromStage < 0 || s.fromStage >= s.toStage) fail(`send of '${s.tensor}' goes from stage ${s.fromStage} to stage ${s.toStage}; sends go forward between the ${pp} stages`);
    if (s.beforeSection !== to.firstSection) fail(`send of '${s.tensor}' arrives before section ${s.beforeSection}; stage ${s.toStage} starts at section ${to.firstSection}`);
    if (!tensors.has(s.tensor)) fail(`send names '${s.tensor}', which is not a tensor of the plan`);
  }
  return p;
}
