// The compile step: ONNX (or graph IR) in, a placement plan out.
//   load + default passes -> pattern fusion -> bind dims -> lower to dataflow
//   -> sections -> unit allocation -> memory placement -> cost model -> Plan
// Each level is verified at its boundary.

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import type { Module } from "../ir/graph/graph.js";
import { mainGraph } from "../ir/graph/graph.js";
import type { DType } from "../ir/dtype.js";
import type { DataflowModule, Phase } from "../ir/dataflow/dataflow.js";
import { verifyDataflow } from "../ir/dataflow/verify.js";
import type { Plan, Section } from "../ir/placement/plan.js";
import { PLAN_VERSION } from "../ir/placement/plan.js";
import { verifyPlan } from "../ir/placement/verify.js";
import type { Target } from "../targets/target.js";
import { loadTarget, sramBytes } from "../targets/target.js";
import { loadModel } from "./load.js";
import type { PassRecord } from "./passes/pipeline.js";
import { runPipeline } from "./passes/pipeline.js";
import { lookupPass } from "./passes/pass.js";
import { bindDims } from "./lower/bind.js";
import { lowerToDataflow } from "./lower/to-dataflow.js";
import type { OptLevel } from "./schedule/sections.js";
import { partitionSections } from "./schedule/sections.js";
import { allocateSection } from "./schedule/allocate.js";
import { estimateSection } from "./schedule/estimate.js";
import { checkFitsSomewhere, placeTensors } from "./place/placement.js";
import { rooflineFloor, sectionCost, tokensPerPass } from "./cost/cost-model.js";
import { fusionCounts } from "./fusion-counts.js";
import { decomposeComposites } from "./passes/decompose-composites.js";

export interface CompileOptions {
  readonly target: string | Target;
  readonly opt?: OptLevel;
  readonly phase?: Phase;
  readonly batch?: number;
  /** Prompt length (prefill) or context length (decode). */
  readonly seq?: number;
  /** Plan floating-point data in this dtype (e.g. bf16 for a float32 export). */
  readonly dtype?: DType;
  readonly dims?: ReadonlyMap<string, number>;
  readonly passes?: string;
  readonly verifyEach?: boolean;
  readonly recordIR?: boolean;
  readonly onPass?: (r: PassRecord) => void;
  /** Progress for long compiles: a stage name as each starts. */
  readonly onStage?: (stage: string) => void;
}

export interface CompileResult {
  readonly plan: Plan;
  readonly graph: Module;
  readonly dataflow: DataflowModule;
  readonly records: readonly PassRecord[];
  readonly target: Target;
}

function sha256(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/**
 * Fuse patterns. At -O0 the composites are decomposed again, all but
 * Attention, which owns the KV cache and is lowered as its unfused kernels.
 */
function fuse(module: Module, opt: OptLevel, options: CompileOptions): { module: Module; records: PassRecord[]; counts: Record<string, number> } {
  const r = runPipeline(module, [lookupPass("fuse-patterns"), lookupPass("dce")], {
    verifyEach: options.verifyEach ?? false, recordIR: options.recordIR ?? false, ...(options.onPass ? { onPass: options.onPass } : {}),
  });
  const counts = fusionCounts(r.module);
  if (opt > 0) return { module: r.module, records: [...r.records], counts };
  return { module: decomposeComposites(r.module, new Set(["Attention"])), records: [...r.records], counts: {} };
}

export async function compile(modelPath: string, options: CompileOptions): Promise<CompileResult> {
  const stage = options.onStage ?? (() => {});
  const target = typeof options.target === "string" ? loadTarget(options.target) : options.target;
  const opt = options.opt ?? 2;
  const phase = options.phase ?? "prefill";
  const batch = options.batch ?? 1;
  const seq = options.seq ?? (phase === "decode" ? 128 : 128);
  stage("import");
  const loaded = await loadModel(modelPath, {
    ...(options.passes !== undefined ? { passes: options.passes } : {}),
    verifyEach: options.verifyEach ?? false, recordIR: options.recordIR ?? false,
    ...(options.onPass ? { onPass: options.onPass } : {}),
  });
  stage("fuse");
  const fused = fuse(loaded.module, opt, options);
  const graph = fused.module;
  stage("lower");
  const bindings = bindDims(mainGraph(graph), { phase, batch, seq, ...(options.dims ? { dims: options.dims } : {}) });
  // One kernel's buffers may take at most half the chip's SRAM, so tiles shrink to fit small chips.
  const dataflow = lowerToDataflow(graph, { phase, bindings, dtype: options.dtype, unfused: opt === 0, kernelBufferBudget: sramBytes(target) / 2 });
  verifyDataflow(dataflow);
  checkFitsSomewhere(dataflow, target);
  stage("schedule");
  const spans = partitionSections(dataflow, target, opt, (ks) => estimateSection(ks, target));
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
  const sections: Section[] = spans.map((span, i) => {
    const a = allocations[i]!;
    const outside = (t: string) => dataflow.outputs.includes(t) || [...(consumers.get(t) ?? [])].some((s) => s !== i);
    const cost = sectionCost(span, a.computeSeconds, a.memoryUnits, dataflow, placement.tierOf, outside, target);
    const sramBytes = span.kernels.reduce((s, k) => s + k.bufferBytes, 0);
    return {
      name: `s${i}`, kernels: a.kernels, initiationInterval: a.initiationInterval,
      computeUnits: a.computeUnits, memoryUnits: a.memoryUnits, sramBytes, cost,
    };
  });
  const seconds = sections.reduce((s, x) => s + x.cost.seconds, 0);
  const floor = rooflineFloor(dataflow, target);
  const plan: Plan = {
    version: PLAN_VERSION,
    model: { file: basename(modelPath), sha256: sha256(modelPath) },
    target: target.name,
    options: { opt, phase, batch, seq, dtype: options.dtype ?? "f32" },
    bindings: dataflow.bindings,
    fusion: fused.counts,
    dataflow,
    sections,
    allocations: placement.allocations,
    transfers: placement.transfers,
    occupancy: placement.occupancy,
    prediction: {
      seconds,
      tokensPerSecond: seconds > 0 ? tokensPerPass(dataflow, batch, seq) / seconds : 0,
      floorSeconds: floor.seconds,
      floorBound: floor.bound,
      ratioToFloor: floor.seconds > 0 ? seconds / floor.seconds : 1,
    },
  };
  verifyPlan(plan, target);
  return { plan, graph, dataflow, records: [...loaded.records, ...fused.records], target };
}
