// The part of the compile step that works on one socket's dataflow module:
// bind dims and lower, then sections -> unit allocation -> memory placement ->
// cost model. compile.ts runs it once for a single-socket plan; the node-level
// passes (compiler/node) run it for each pipeline stage of a parallel plan.

import type { Module } from "../ir/graph/graph.js";
import { mainGraph } from "../ir/graph/graph.js";
import type { DType } from "../ir/dtype.js";
import type { DataflowModule, Phase } from "../ir/dataflow/dataflow.js";
import { verifyDataflow } from "../ir/dataflow/verify.js";
import type { Section, SectionCost, Transfer } from "../ir/placement/plan.js";
import type { Target } from "../targets/target.js";
import { sramBytes } from "../targets/target.js";
import { bindDims } from "./lower/bind.js";
import { lowerToDataflow } from "./lower/to-dataflow.js";
import type { OptLevel, SectionSpan } from "./schedule/sections.js";
import { partitionSections } from "./schedule/sections.js";
import { allocateSection } from "./schedule/allocate.js";
import { estimateSection } from "./schedule/estimate.js";
import type { Placement } from "./place/placement.js";
import { placeTensors } from "./place/placement.js";
import { partitionHostDevice } from "./schedule/host-device.js";
import type { LinkCost } from "./cost/cost-model.js";
import { sectionCost } from "./cost/cost-model.js";

export interface LowerRequest {
  readonly phase: Phase;
  readonly batch: number;
  readonly seq: number;
  readonly dtype: DType | undefined;
  readonly opt: OptLevel;
  readonly dims?: ReadonlyMap<string, number>;
  /** The graph takes tokens (false for an image model): tokens per pass count prompt tokens. */
  readonly tokenAxis?: boolean;
}

/** Bind dims and lower a fused module to the dataflow level for one socket of `target` (verified). */
export function lowerForTarget(graph: Module, target: Target, r: LowerRequest): DataflowModule {
  const bindings = bindDims(mainGraph(graph), { phase: r.phase, batch: r.batch, seq: r.seq, ...(r.dims ? { dims: r.dims } : {}) });
  // One kernel's buffers may take at most half the chip's SRAM, so tiles shrink to fit small chips.
  const lowered = lowerToDataflow(graph, { phase: r.phase, bindings, dtype: r.dtype, unfused: r.opt === 0, kernelBufferBudget: kernelBufferBudget(target) });
  // Whatever the host computes with is computed on the host too, or read back (host-device.ts).
  const dataflow = partitionHostDevice(lowered, target);
  verifyDataflow(dataflow);
  return dataflow;
}

export function kernelBufferBudget(target: Target): number {
  return sramBytes(target) / 2;
}

export interface SocketPlan {
  readonly spans: readonly SectionSpan[];
  readonly sections: readonly Section[];
  readonly placement: Placement;
  /** Sum of the sections' times. */
  readonly seconds: number;
}

/** Sections, units, placement and cost of one socket's program; `linkCost` prices collective kernels. */
export interface SocketPlanOptions {
  readonly linkCost?: LinkCost;
  /** Number of the first section (sections of later pipeline stages continue the count). */
  readonly sectionBase?: number;
  readonly onStage?: (stage: string) => void;
}

export function planSocket(dataflow: DataflowModule, target: Target, opt: OptLevel, options: SocketPlanOptions = {}): SocketPlan {
  const stage = options.onStage ?? (() => {});
  const sectionBase = options.sectionBase ?? 0;
  stage("schedule");
  const spans = partitionSections(dataflow, target, opt, (ks, external) => estimateSection(ks, target, external));
  const allocations = spans.map((s) => allocateSection(s.kernels, target));
  stage("place");
  const placement = placeTensors(dataflow, spans, target);
  stage("cost");
  const sectionOf = new Map<string, number>();
  spans.forEach((s, i) => s.kernels.forEach((k) => sectionOf.set(k.name, i)));
  const consumers = new Map<string, Set<number>>();
  for (const k of dataflow.kernels) for (const i of k.inputs) {
    if (!consumers.has(i)) consumers.set(i, new Set());
    consumers.get(i)!.add(sectionOf.get(k.name)!);
  }
  const graphOutputs = new Set(dataflow.outputs);
  const sections: Section[] = spans.map((span, i) => {
    const a = allocations[i]!;
    const outside = (t: string) => {
      const readers = consumers.get(t);
      return graphOutputs.has(t) || (readers !== undefined && (readers.size > 1 || !readers.has(i)));
    };
    const computed = sectionCost(span, a.computeSeconds, a.memoryUnits, dataflow, placement.tierOf, outside, target, options.linkCost);
    const cost = withReadbacks(computed, placement.transfers.filter((t) => t.to === "host" && t.beforeSection === i), target);
    const sramBytes = span.kernels.reduce((s, k) => s + k.bufferBytes, 0);
    return {
      name: `s${sectionBase + i}`, kernels: a.kernels, initiationInterval: a.initiationInterval,
      computeUnits: a.computeUnits, memoryUnits: a.memoryUnits, sramBytes, cost,
    };
  });
  return { spans, sections, placement, seconds: sections.reduce((s, x) => s + x.cost.seconds, 0) };
}

/**
 * A value read back to the host costs its bytes over the host link and a
 * synchronisation (the host waits for the section that wrote it): both add to
 * the section that reads it, since nothing else runs meanwhile.
 */
function withReadbacks(cost: SectionCost, readbacks: readonly Transfer[], target: Target): SectionCost {
  if (readbacks.length === 0) return cost;
  const added = readbacks.reduce((s, t) => s + t.seconds, 0) + target.overheads.launchSeconds;
  const overheadSeconds = cost.overheadSeconds + added, seconds = cost.seconds + added;
  const busy = Math.max(cost.computeSeconds, cost.hbmSeconds, cost.ddrSeconds, cost.sramSeconds, cost.linkSeconds ?? 0);
  return { ...cost, overheadSeconds, seconds, bound: overheadSeconds > busy ? "overhead" : cost.bound };
}
