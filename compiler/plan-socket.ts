// The part of the compile step that works on one socket's program, as
// registered stages (passes/stage.ts): lower-to-dataflow and verify-dataflow,
// then partition-sections -> allocate-units -> place-tensors -> cost.
// compile.ts runs them once for a single-socket plan; the node-level passes
// (compiler/node) run them for each pipeline stage of a parallel plan.

import type { Module } from "../ir/graph/graph.js";
import { mainGraph } from "../ir/graph/graph.js";
import type { DType } from "../ir/dtype.js";
import type { DataflowModule, Phase } from "../ir/dataflow/dataflow.js";
import { verifyDataflow } from "../ir/dataflow/verify.js";
import { printDataflow } from "../ir/dataflow/text.js";
import type { Section, SectionCost, Transfer } from "../ir/placement/plan.js";
import { PLAN_VERSION } from "../ir/placement/plan.js";
import { printPlacement } from "../ir/placement/text.js";
import { fail } from "../ir/diagnostics.js";
import type { IrLevel, Stage } from "./passes/stage.js";
import { registerStage, runStages } from "./passes/stage.js";
import type { PassRecord } from "./passes/pipeline.js";
import type { SectionAllocation } from "./schedule/allocate.js";
import type { Target } from "../targets/target.js";
import { sramBytes } from "../targets/target.js";
import { bindDims } from "./lower/bind.js";
import { lowerToDataflow } from "./lower/to-dataflow.js";
import type { OptLevel, SectionSpan } from "./schedule/sections.js";
import { partitionSections } from "./schedule/sections.js";
import { allocateSection } from "./schedule/allocate.js";
import { SectionEstimator } from "./schedule/estimate.js";
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

/**
 * One socket's program as the stages fill it in: the fused graph and what to plan it for,
 * then its dataflow module, sections, their units, the tensors' placement and the costs.
 */
export interface SocketState {
  readonly target: Target;
  readonly opt: OptLevel;
  readonly graph?: Module;
  readonly request?: LowerRequest;
  readonly dataflow?: DataflowModule;
  readonly spans?: readonly SectionSpan[];
  readonly allocations?: readonly SectionAllocation[];
  readonly placement?: Placement;
  readonly sections?: readonly Section[];
  readonly options?: SocketPlanOptions;
}

function need<T>(value: T | undefined, stage: string, what: string): T {
  if (value === undefined) fail(`stage '${stage}' runs after the stage that makes ${what}`);
  return value;
}

export const LOWER_TO_DATAFLOW = registerStage<SocketState>({
  name: "lower-to-dataflow",
  summary: "bind the graph's dims and lower each node (or fused composite) to one dataflow kernel, split host from device work",
  description: `Binds the symbolic dims (batch, sequence, past) for the phase, lowers each node to a kernel of the kind
the dataflow op table gives (ir/dataflow/kinds.ts) with its FLOPs, bytes read and written and stream
tiles sized to half the chip's SRAM, and moves shape arithmetic the host computes to the host
(compiler/schedule/host-device.ts). An op with no lowering is refused by name. Output (llama-tiny, decode):
  tensor %mul_115: f32[1, 1, 64] {role = "activation", bytes = 256}
  kernel @k56 "matmul" (%mul_115, %val_93) -> (%linear) {dtype = "f32", flops = 8192, streaming = "matmul",
      tile = [1, 64], tiles = 1, blocks = 1, buffer_bytes = 33792, reads = {%mul_115 = 256, %val_93 = 16384}, ...}`,
  from: "graph", to: "dataflow",
  run: (s) => {
    const graph = need(s.graph, "lower-to-dataflow", "the graph"), r = need(s.request, "lower-to-dataflow", "the request");
    const bindings = bindDims(mainGraph(graph), { phase: r.phase, batch: r.batch, seq: r.seq, ...(r.dims ? { dims: r.dims } : {}) });
    // One kernel's buffers may take at most half the chip's SRAM, so tiles shrink to fit small chips.
    const lowered = lowerToDataflow(graph, { phase: r.phase, bindings, dtype: r.dtype, unfused: r.opt === 0, kernelBufferBudget: kernelBufferBudget(s.target) });
    // Whatever the host computes with is computed on the host too, or read back (host-device.ts).
    return { ...s, dataflow: partitionHostDevice(lowered, s.target) };
  },
});

export const VERIFY_DATAFLOW = registerStage<SocketState>({
  name: "verify-dataflow",
  summary: "check the dataflow module: tensors defined once and before use, kernel kinds and operands consistent",
  description: `The dataflow level's verifier (ir/dataflow/verify.ts) at the boundary from the graph level: every tensor
defined once and before it is read, every kernel of a known kind with the operands its kind needs,
outputs defined. It changes nothing; a failure names the kernel.`,
  from: "dataflow", to: "dataflow",
  run: (s) => {
    verifyDataflow(need(s.dataflow, "verify-dataflow", "the dataflow module"));
    return s;
  },
});

export const PARTITION_SECTIONS = registerStage<SocketState>({
  name: "partition-sections",
  summary: "group kernels into sections the chip runs as one spatial pipeline (-O2 on dataflow targets), one kernel each otherwise",
  description: `Cuts the kernel sequence into sections: at -O2 on a dataflow target, the longest runs whose buffers
fit the chip's SRAM and units, chosen by the quick section estimate (compiler/schedule/estimate.ts);
one kernel per section at -O0/-O1 or on a kernel-by-kernel target (a GPU). Weakness: sections
follow program order. Output, in the placement IR (units and costs are 0 until the next stages):
  section @s0 {initiation_interval = 0, compute_units = 0, memory_units = 0, sram_bytes = 0} {
    kernel @k0 {compute_units = 0, memory_units = 0, utilisation = 0, seconds = 0} ...`,
  from: "dataflow", to: "placement",
  run: (s) => {
    const dataflow = need(s.dataflow, "partition-sections", "the dataflow module");
    return { ...s, spans: partitionSections(dataflow, s.target, s.opt, new SectionEstimator(s.target)) };
  },
});

export const ALLOCATE_UNITS = registerStage<SocketState>({
  name: "allocate-units",
  summary: "give each section's kernels compute and memory units so the pipeline stages balance",
  description: `For each section, gives every kernel compute units in proportion to its work and memory units for its
buffers (compiler/schedule/allocate.ts), and sets the pipeline's initiation interval and time.
Output: each section's units and initiation interval, and each kernel's units, utilisation and seconds:
  section @s0 {initiation_interval = 1.52e-9, compute_units = 1040, memory_units = 75, sram_bytes = 0} {
    kernel @k56 {compute_units = 212, memory_units = 1, utilisation = 0.98, seconds = 3.4e-8} ...`,
  from: "placement", to: "placement",
  run: (s) => ({ ...s, allocations: need(s.spans, "allocate-units", "sections").map((span) => allocateSection(span.kernels, s.target)) }),
});

export const PLACE_TENSORS = registerStage<SocketState>({
  name: "place-tensors",
  summary: "place every tensor in SRAM, HBM or DDR over its live range, with addresses and the transfers between tiers",
  description: `Computes each tensor's live range over the sections, keeps stream-internal tensors on chip, and places
the rest in the fastest tier with room at its size (compiler/place/placement.ts), assigning
addresses and the transfers a spilled or host-read tensor needs. Output:
  alloc %model.model.embed_tokens.weight {tier = "hbm", offset = 0, bytes = 131072, live = [0, 0]}
  transfer %input_ids {from = "host", to = "hbm", bytes = 8, before_section = 0, seconds = 2.5e-10}`,
  from: "placement", to: "placement",
  run: (s) => ({ ...s, placement: placeTensors(need(s.dataflow, "place-tensors", "the dataflow module"), need(s.spans, "place-tensors", "sections"), s.target) }),
});

export const COST = registerStage<SocketState>({
  name: "cost",
  summary: "predict each section's time: compute, each tier's bytes over its bandwidth, links and overheads",
  description: `Prices each section with the cost model (compiler/cost/cost-model.ts): the pipeline's compute time,
the bytes it moves in each tier over that tier's bandwidth, collectives over the links, launch and
section-switch overheads, and host read-backs. Output: each section's cost line,
  cost {compute_seconds = 3.6e-8, hbm_seconds = 2.4e-7, ddr_seconds = 0, sram_seconds = 2.6e-9,
      overhead_seconds = 0.00003, seconds = 0.0000302, bound = "overhead", hbm_bytes = 438457, ddr_bytes = 0}`,
  from: "placement", to: "placement",
  run: (s) => ({ ...s, sections: costSections(s) }),
});

/** Run `stages` over a state; --print-ir-after-all prints each one's IR at the level it leaves. */
function socketStages(state: SocketState, stages: readonly Stage<SocketState>[], options: SocketPlanOptions): { state: SocketState; records: PassRecord[] } {
  return runStages(state, stages, {
    ...(options.recordIR ? { recordIR: true, print: printSocketState } : {}), ...(options.onPass ? { onPass: options.onPass } : {}),
  });
}

/**
 * The IR a state holds at a level, as --print-ir-after-all prints it after each stage: the
 * dataflow module, or the sections so far in the placement IR's form (units and costs 0
 * until the stages that set them).
 */
export function printSocketState(s: SocketState, level: IrLevel): string | undefined {
  if (!s.dataflow) return undefined;
  if (level === "dataflow") return printDataflow(s.dataflow);
  const sections = s.sections ?? (s.spans ?? []).map((span, i): Section => {
    const a = s.allocations?.[i];
    const kernels = a?.kernels ?? span.kernels.map((k) => ({ kernel: k.name, computeUnits: 0, memoryUnits: 0, utilisation: 0, seconds: 0 }));
    return { name: `s${(s.options?.sectionBase ?? 0) + i}`, kernels, initiationInterval: a?.initiationInterval ?? 0, computeUnits: a?.computeUnits ?? 0, memoryUnits: a?.memoryUnits ?? 0, sramBytes: 0, cost: UNCOSTED };
  });
  return printPlacement({
    version: PLAN_VERSION, model: { file: "", sha256: "" }, target: s.target.name,
    options: { opt: s.opt, phase: s.dataflow.phase, batch: s.request?.batch ?? 1, seq: s.request?.seq ?? 1, dtype: s.request?.dtype ?? "f32" },
    bindings: s.dataflow.bindings, fusion: {}, dataflow: s.dataflow, sections: [...sections],
    allocations: s.placement?.allocations ?? [], transfers: s.placement?.transfers ?? [], occupancy: s.placement?.occupancy ?? { sram: 0, hbm: 0, ddr: 0 },
    prediction: { seconds: sections.reduce((t, x) => t + x.cost.seconds, 0), tokensPerSecond: 0, floorSeconds: 0, floorBound: "memory", ratioToFloor: 0 },
  });
}

const UNCOSTED: SectionCost = { computeSeconds: 0, hbmSeconds: 0, ddrSeconds: 0, sramSeconds: 0, overheadSeconds: 0, seconds: 0, bound: "compute", hbmBytes: 0, ddrBytes: 0 };

/** Bind dims and lower a fused module to the dataflow level for one socket of `target` (verified). */
export function lowerForTarget(graph: Module, target: Target, r: LowerRequest, options: SocketPlanOptions = {}): DataflowModule {
  return lowerForTargetRecorded(graph, target, r, options).dataflow;
}

/** lowerForTarget, with a record of each stage it ran. */
export function lowerForTargetRecorded(graph: Module, target: Target, r: LowerRequest, options: SocketPlanOptions = {}): { dataflow: DataflowModule; records: PassRecord[] } {
  const { state, records } = socketStages({ target, opt: r.opt, graph, request: r }, [LOWER_TO_DATAFLOW, VERIFY_DATAFLOW], options);
  return { dataflow: state.dataflow!, records };
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
  /** One record per stage run. */
  readonly records: readonly PassRecord[];
}

/** Sections, units, placement and cost of one socket's program; `linkCost` prices collective kernels. */
export interface SocketPlanOptions {
  readonly linkCost?: LinkCost;
  /** Number of the first section (sections of later pipeline stages continue the count). */
  readonly sectionBase?: number;
  readonly onStage?: (stage: string) => void;
  /** Keep each stage's IR in its record (--print-ir-after-all). */
  readonly recordIR?: boolean;
  readonly onPass?: (record: PassRecord) => void;
}

export function planSocket(dataflow: DataflowModule, target: Target, opt: OptLevel, options: SocketPlanOptions = {}, request?: LowerRequest): SocketPlan {
  const stage = options.onStage ?? (() => {});
  stage("schedule");
  const base: SocketState = { target, opt, dataflow, options, ...(request ? { request } : {}) };
  const scheduled = socketStages(base, [PARTITION_SECTIONS, ALLOCATE_UNITS], options);
  stage("place");
  const placed = socketStages(scheduled.state, [PLACE_TENSORS], options);
  stage("cost");
  const costed = socketStages(placed.state, [COST], options);
  const sections = costed.state.sections!;
  return {
    spans: costed.state.spans!, sections, placement: costed.state.placement!, seconds: sections.reduce((s, x) => s + x.cost.seconds, 0),
    records: [...scheduled.records, ...placed.records, ...costed.records],
  };
}

function costSections(s: SocketState): Section[] {
  const dataflow = need(s.dataflow, "cost", "the dataflow module"), spans = need(s.spans, "cost", "sections");
  const allocations = need(s.allocations, "cost", "units"), placement = need(s.placement, "cost", "the placement");
  const target = s.target, sectionBase = s.options?.sectionBase ?? 0;
  const sectionOf = new Map<string, number>();
  spans.forEach((sp, i) => sp.kernels.forEach((k) => sectionOf.set(k.name, i)));
  const consumers = new Map<string, Set<number>>();
  for (const k of dataflow.kernels) for (const i of k.inputs) {
    if (!consumers.has(i)) consumers.set(i, new Set());
    consumers.get(i)!.add(sectionOf.get(k.name)!);
  }
  const graphOutputs = new Set(dataflow.outputs);
  return spans.map((span, i) => {
    const a = allocations[i]!;
    const outside = (t: string) => {
      const readers = consumers.get(t);
      return graphOutputs.has(t) || (readers !== undefined && (readers.size > 1 || !readers.has(i)));
    };
    const computed = sectionCost(span, a.computeSeconds, a.memoryUnits, dataflow, placement.tierOf, outside, target, s.options?.linkCost);
    const cost = withReadbacks(computed, placement.transfers.filter((t) => t.to === "host" && t.beforeSection === i), target);
    const sramBytes = span.kernels.reduce((sum, k) => sum + k.bufferBytes, 0);
    return {
      name: `s${sectionBase + i}`, kernels: a.kernels, initiationInterval: a.initiationInterval,
      computeUnits: a.computeUnits, memoryUnits: a.memoryUnits, sramBytes, cost,
    };
  });
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
