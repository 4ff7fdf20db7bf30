// Every socket of a node-level plan, for the visualiser's node panel: where
// it sits in the layout (replica, pipeline stage, member of the stage's
// group), the sections it runs, its own peak bytes per tier and the parts of
// the split tensors it holds. The plan keeps one socket's program (SPMD,
// compiler/node/tensor-parallel.ts): every member of a stage's group runs the
// stage's sections on its own shards, so the stage's occupancy is each of its
// sockets'. With --disaggregate the other phase's group runs a plan of its
// own; the rest of the node is idle.

import type { Plan, TierName } from "../../ir/placement/plan.js";
import { partOf } from "../../ir/placement/socket-scope.js";
import { formatLayout, groupSize } from "../node/layout.js";

/** How many of the split tensors a socket uses it holds part `part` (from 0) of `parts` of. */
export interface SocketParts {
  readonly part: number;
  readonly parts: number;
  readonly tensors: number;
}

export type SocketView =
  | {
    readonly socket: number;
    readonly role: "stage";
    readonly replica: number;
    readonly stage: number;
    /** Its place in the stage's group of `group` sockets (tensor or expert parallel). */
    readonly member: number;
    readonly group: number;
    readonly firstSection: number;
    readonly lastSection: number;
    /** One micro-batch through the stage's sections. */
    readonly seconds: number;
    /** Peak bytes per tier on this socket. */
    readonly bytes: Readonly<Record<TierName, number>>;
    readonly parts: readonly SocketParts[];
  }
  /** A socket of the other phase's group (--disaggregate): its own plan, not this one. */
  | { readonly socket: number; readonly role: "prefill" | "decode"; readonly layout: string; readonly seconds: number }
  | { readonly socket: number; readonly role: "idle" };

export interface NodeView {
  readonly layout: string;
  /** Sockets of the target. */
  readonly sockets: number;
  readonly group: number;
  readonly stages: number;
  readonly replicas: number;
  /** One per socket of the target, in socket order. */
  readonly perSocket: readonly SocketView[];
}

/** The parts of the split tensors a stage's sections read or write that group member `member` holds. */
function memberParts(plan: Plan, firstSection: number, lastSection: number, member: number, group: number): SocketParts[] {
  const kernels = new Set(plan.sections.slice(firstSection, lastSection + 1).flatMap((s) => s.kernels.map((k) => k.kernel)));
  const used = new Set(plan.dataflow.kernels.filter((k) => kernels.has(k.name)).flatMap((k) => [...k.inputs, ...k.outputs]));
  const counts = new Map<string, SocketParts>();
  for (const shard of plan.parallel!.shards) {
    if (!used.has(shard.tensor)) continue;
    const part = partOf(member, shard.parts, group), key = `${part}/${shard.parts}`;
    const seen = counts.get(key);
    counts.set(key, { part, parts: shard.parts, tensors: (seen?.tensors ?? 0) + 1 });
  }
  return [...counts.values()].sort((a, b) => b.tensors - a.tensors);
}

/** Every socket of a node-level plan's target; null for a plan of one socket. */
export function nodeView(plan: Plan): NodeView | null {
  const p = plan.parallel;
  if (!p) return null;
  const group = groupSize(p.layout);
  const perSocket: SocketView[] = Array.from({ length: p.sockets }, (_, socket) => ({ socket, role: "idle" }));
  p.stages.forEach((stage, index) => {
    // Member i of replica r is the stage's socket r * group + i (as the runtime runs it).
    stage.sockets.forEach((socket, k) => {
      const member = k % group;
      perSocket[socket] = {
        socket, role: "stage", replica: Math.floor(k / group), stage: index, member, group,
        firstSection: stage.firstSection, lastSection: stage.lastSection, seconds: stage.seconds, bytes: { ...stage.occupancy },
        parts: memberParts(plan, stage.firstSection, stage.lastSection, member, group),
      };
    });
  });
  const d = p.disaggregation;
  if (d) {
    const other = plan.options.phase === "decode"
      ? { role: "prefill" as const, sockets: d.prefillSockets, layout: d.prefillLayout, seconds: d.prefillSeconds }
      : { role: "decode" as const, sockets: d.decodeSockets, layout: d.decodeLayout, seconds: d.decodeSeconds };
    for (const socket of other.sockets) {
      if (perSocket[socket]?.role === "idle") perSocket[socket] = { socket, role: other.role, layout: other.layout, seconds: other.seconds };
    }
  }
  return { layout: formatLayout(p.layout), sockets: p.sockets, group, stages: p.stages.length, replicas: p.layout.dp, perSocket };
}
