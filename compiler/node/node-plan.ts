// One parallel layout planned end to end: the per-socket program (tensor and
// expert parallelism), cut into pipeline stages, each stage scheduled, placed
// and costed as one socket, then merged into a plan whose sections are
// numbered across stages and whose allocations each live inside one stage.
// Data-parallel replicas repeat the whole thing on other sockets.

import type { DataflowModule, DfKernel } from "../../ir/dataflow/dataflow.js";
import { weightBytes } from "../../ir/dataflow/dataflow.js";
import type { Attrs } from "../../ir/graph/graph.js";
import type { Allocation, ParallelPlan, Plan, Section, StageSend, TierName, Transfer } from "../../ir/placement/plan.js";
import type { Target } from "../../targets/target.js";
import { peakFlops } from "../../targets/target.js";
import { tokensPerPass } from "../cost/cost-model.js";
import { formatBytes as gib } from "../format.js";
import type { LowerRequest } from "../plan-socket.js";
import { kernelBufferBudget, planSocket } from "../plan-socket.js";
import { collectiveCost, collectiveSeconds } from "./collectives.js";
import type { ParallelLayout } from "./layout.js";
import { groupSize, loweredBatch } from "./layout.js";
import { pipelineTiming, splitPipelineStages, stageModules } from "./pipeline-parallel.js";
import { shardForTensorParallel } from "./tensor-parallel.js";

export interface LayoutContext {
  readonly target: Target;
  readonly request: LowerRequest;
  /** The unsharded module lowered at a batch (cached by the caller). */
  readonly lowered: (batch: number) => DataflowModule;
  readonly attrsOf: (k: DfKernel) => Attrs | undefined;
  /** Number of the first socket this layout uses (a disaggregated group starts later). */
  readonly socketBase: number;
}

export type PlanParts = Pick<Plan, "dataflow" | "sections" | "allocations" | "transfers" | "occupancy" | "prediction"> & { readonly parallel: ParallelPlan };

export type LayoutOutcome =
  | { readonly fits: true; readonly parts: PlanParts }
  | { readonly fits: false; readonly problem: string; readonly weightBytesPerSocket: number };

/** The per-socket program of a layout before pipelining (tensor and expert parallelism applied). */
export function shardedProgram(ctx: LayoutContext, layout: ParallelLayout) {
  const full = ctx.lowered(loweredBatch(layout, ctx.request.batch));
  return { full, ...shardForTensorParallel(full, layout, ctx.attrsOf, kernelBufferBudget(ctx.target)) };
}

export function planLayout(ctx: LayoutContext, layout: ParallelLayout): LayoutOutcome {
  const { target, request } = ctx;
  const node = target.node!;
  const group = groupSize(layout);
  const { full, module: program, shards, collectives } = shardedProgram(ctx, layout);
  const stages = stageModules(program, splitPipelineStages(program, layout.pp, target));
  const heaviest = Math.max(...stages.map((s) => weightBytes(s.module)));
  if (heaviest > target.hbm.bytes) {
    return { fits: false, problem: `each socket needs ${gib(heaviest)} of weights; its HBM holds ${gib(target.hbm.bytes)}`, weightBytesPerSocket: heaviest };
  }
  const byKernel = new Map(collectives.map((c) => [c.kernel, c]));
  const linkCost = (k: DfKernel) => {
    const c = byKernel.get(k.name);
    return c && collectiveCost(c.kind, c.bytes, c.sockets, node.link);
  };
  const sections: Section[] = [], allocations: Allocation[] = [], transfers: Transfer[] = [], sends: StageSend[] = [];
  const occupancy: Record<TierName, number> = { sram: 0, hbm: 0, ddr: 0 };
  const parallelStages: ParallelPlan["stages"][number][] = [];
  const stageSeconds: number[] = [];
  let collectiveTime = 0, loadBytes = 0;
  stages.forEach((stage, s) => {
    const base = sections.length;
    const socket = planSocket(stage.module, target, request.opt, { linkCost, sectionBase: base });
    sections.push(...socket.sections);
    const received = new Set(stage.received.map((r) => r.tensor));
    for (const a of socket.placement.allocations) allocations.push({ ...a, firstSection: a.firstSection + base, lastSection: a.lastSection + base });
    for (const t of socket.placement.transfers) {
      if (!received.has(t.tensor)) transfers.push({ ...t, beforeSection: t.beforeSection < 0 ? -1 : t.beforeSection + base });
    }
    let sendSeconds = 0;
    for (const r of stage.received) {
      const bytes = stage.module.tensors.find((t) => t.name === r.tensor)!.bytes;
      const seconds = collectiveSeconds("send", bytes, 2, node.link);
      sends.push({ tensor: r.tensor, fromStage: r.from, toStage: s, bytes, beforeSection: base, seconds });
      sendSeconds += seconds;
    }
    for (const tier of ["sram", "hbm", "ddr"] as const) occupancy[tier] = Math.max(occupancy[tier], socket.placement.occupancy[tier]);
    for (const x of socket.sections) {
      if (x.cost.linkSeconds === undefined) continue;
      const c = x.cost;
      collectiveTime += c.seconds - (Math.max(c.computeSeconds, c.hbmSeconds, c.ddrSeconds, c.sramSeconds) + c.overheadSeconds);
    }
    collectiveTime += sendSeconds;
    stageSeconds.push(socket.seconds + sendSeconds);
    loadBytes += weightBytes(stage.module) * group * layout.dp;
    const sockets: number[] = [];
    for (let r = 0; r < layout.dp; r++) for (let i = 0; i < group; i++) sockets.push(ctx.socketBase + (r * layout.pp + s) * group + i);
    parallelStages.push({ sockets, firstSection: base, lastSection: sections.length - 1, seconds: socket.seconds + sendSeconds, occupancy: { ...socket.placement.occupancy } });
  });
  const timing = pipelineTiming(stageSeconds, layout.microBatches, request.phase);
  const tokens = tokensPerPass(full, request.batch, request.seq, request.tokenAxis ?? true);
  const floor = replicaFloor(full, layout, target);
  const step = timing.stepSeconds;
  const perUser = request.phase === "decode" ? 1 / step : (request.tokenAxis ?? true ? request.seq : 1) / timing.latencySeconds;
  const parallel: ParallelPlan = {
    layout: { tp: layout.tp, pp: layout.pp, ep: layout.ep, dp: layout.dp, microBatches: layout.microBatches },
    sockets: node.sockets,
    collectives: node.collectives,
    stages: parallelStages,
    shards,
    collectiveKernels: collectives.map((c) => ({ kernel: c.kernel, kind: c.kind, bytes: c.bytes, sockets: c.sockets, seconds: collectiveSeconds(c.kind, c.bytes, c.sockets, node.link) })),
    sends,
    prediction: {
      stepSeconds: step, latencySeconds: timing.latencySeconds, tokensPerSecondPerUser: perUser,
      tokensPerSecond: (layout.dp * tokens) / step, floorSeconds: floor.seconds, collectiveSeconds: collectiveTime,
      bubbleFraction: timing.bubbleFraction,
      loadSeconds: Math.max(loadBytes / node.loadBandwidth, Math.max(...stages.map((x) => weightBytes(x.module))) / target.ddr.bandwidth),
    },
  };
  return {
    fits: true,
    parts: {
      dataflow: program, sections, allocations, transfers, occupancy,
      prediction: {
        seconds: step, tokensPerSecond: parallel.prediction.tokensPerSecond, floorSeconds: floor.seconds,
        floorBound: floor.bound, ratioToFloor: floor.seconds > 0 ? step / floor.seconds : 1,
      },
      parallel,
    },
  };
}

/**
 * Roofline of one step of a replica over its sockets: every FLOP at peak, every
 * weight byte once and every KV byte once at the HBM bandwidth of all of them.
 */
export function replicaFloor(micro: DataflowModule, layout: ParallelLayout, target: Target): { seconds: number; bound: "compute" | "weights" } {
  const copies = layout.microBatches * (layout.tp === 1 && layout.ep > 1 ? layout.ep : 1);
  const read = new Map<string, number>();
  let compute = 0;
  for (const k of micro.kernels) {
    compute += k.flops / peakFlops(target, k.dtype);
    for (const [t, b] of Object.entries(k.reads)) read.set(t, (read.get(t) ?? 0) + b);
  }
  let weights = 0, kv = 0;
  for (const t of micro.tensors) {
    if (t.role === "weight" || t.role === "constant") weights += Math.min(t.bytes, read.get(t.name) ?? 0);
    else if (t.role === "kv-cache") kv += read.get(t.name) ?? 0;
  }
  const sockets = groupSize(layout) * layout.pp;
  const c = (copies * compute) / sockets, m = (weights + copies * kv) / (sockets * target.hbm.bandwidth);
  return { seconds: Math.max(c, m), bound: c >= m ? "compute" : "weights" };
}
