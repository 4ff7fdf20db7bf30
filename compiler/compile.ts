// The compile step: ONNX (or graph IR) in, a placement plan out.
//   load + default passes -> pattern fusion -> bind dims -> lower to dataflow
//   -> sections -> unit allocation -> memory placement -> cost model -> Plan
// Each level is verified at its boundary. With `parallel` (or `disaggregate`)
// the lowered module goes to the node-level passes (compiler/node) instead.

import { createHash } from "node:crypto";
import { readFileSync, realpathSync } from "node:fs";
import { basename } from "node:path";
import type { Module } from "../ir/graph/graph.js";
import { mainGraph } from "../ir/graph/graph.js";
import type { DType } from "../ir/dtype.js";
import type { DataflowModule, Phase } from "../ir/dataflow/dataflow.js";
import type { Plan } from "../ir/placement/plan.js";
import { PLAN_VERSION } from "../ir/placement/plan.js";
import { indexBy } from "../ir/dataflow/dataflow.js";
import { verifyPlan } from "../ir/placement/verify.js";
import { checkPlanLegality, runsPlan } from "../ir/placement/legality.js";
import { TierflowError, fail } from "../ir/diagnostics.js";
import type { Target } from "../targets/target.js";
import { loadTarget } from "../targets/target.js";
import { loadModel } from "./load.js";
import type { PassRecord } from "./passes/pipeline.js";
import { runPipeline } from "./passes/pipeline.js";
import { lookupPass } from "./passes/pass.js";
import type { OptLevel } from "./schedule/sections.js";
import { checkFitsSomewhere } from "./place/placement.js";
import { rooflineFloor, tokensPerPass } from "./cost/cost-model.js";
import type { LowerRequest } from "./plan-socket.js";
import { lowerForTargetRecorded, planSocket } from "./plan-socket.js";
import { registerStage, runStages } from "./passes/stage.js";
import { printPlacement } from "../ir/placement/text.js";
import { hasTokenAxis, resolveRequest } from "./lower/bind.js";
import type { LayoutTrial, NodeCompileOptions, NodeCompileResult } from "./node/compile-node.js";
import { checkSingleSocketFits, compileNodePlan } from "./node/compile-node.js";
import type { ParallelRequest } from "./node/layout.js";
import type { OnStage } from "./stage.js";
import { fusionCounts } from "./fusion-counts.js";
import { decomposeComposites } from "./passes/decompose-composites.js";
import type { Check } from "../ir/arguments.js";
import { BOOLEAN, DTYPE, FUNCTION, OBJECT, POSITIVE_INTEGER, STRING, checkArg, checkOptions, either, mapOf, oneOf } from "../ir/arguments.js";

/** Options of {@link compile}: the target, the optimisation level, the phase and shapes to plan for. */
export interface CompileOptions {
  /** A target preset name ("sn40l", "sn40l-node"), a target file's path, or a loaded target. */
  readonly target: string | Target;
  /** Optimisation level: 0 (fused patterns decomposed again), 1 (fusion), 2 (also streaming sections on a dataflow target; default). */
  readonly opt?: OptLevel;
  /** Plan the prompt (prefill) or one generated token (decode). */
  readonly phase?: Phase;
  /** Sequences per step. */
  readonly batch?: number;
  /** Prompt length (prefill) or context length (decode). */
  readonly seq?: number;
  /** Plan floating-point data in this dtype (e.g. bf16 for a float32 export). */
  readonly dtype?: DType;
  /** Values for the model's symbolic dims, by name. */
  readonly dims?: ReadonlyMap<string, number>;
  /** Pass pipeline run after import, as in {@link LoadOptions}. */
  readonly passes?: string;
  /** As in {@link PipelineOptions}: verify after every pass. */
  readonly verifyEach?: boolean;
  /** As in {@link PipelineOptions}: keep each pass's output as IR text. */
  readonly recordIR?: boolean;
  /** Called after each pass (progress, printing as it goes). */
  readonly onPass?: (r: PassRecord) => void;
  /** Progress for long compiles: a stage name as each starts, with a count where there is one (the layouts of `parallel: "auto"`). */
  readonly onStage?: OnStage;
  /** Plan for several sockets of a node target: "tp=4,pp=2", "auto", or a parsed request (compiler/node). */
  readonly parallel?: string | ParallelRequest;
  /** Disaggregated prefill/decode: "prefill=2,decode=6" (sockets of each group). */
  readonly disaggregate?: string;
}

/** What {@link compile} returns: the plan and every level it was built from. */
export interface CompileResult {
  /** The placement plan, as `tierflow compile` writes it (see {@link planToJson}). */
  readonly plan: Plan;
  /** --parallel auto: every layout tried, best first. */
  readonly search?: readonly LayoutTrial[];
  /** The graph-level module after import, passes and fusion. */
  readonly graph: Module;
  /** The module lowered to the dataflow level. */
  readonly dataflow: DataflowModule;
  /** One record per pass run. */
  readonly records: readonly PassRecord[];
  /** The target planned for, loaded. */
  readonly target: Target;
}

function sha256(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/**
 * Mark the KV caches a with-past export takes and returns, and fuse patterns.
 * At -O0 the composites are decomposed again, all but Attention, which owns
 * the KV cache and is lowered as its unfused kernels, and CacheAppend, which
 * is the graph's KV cache.
 */
function fuse(module: Module, opt: OptLevel, options: Omit<CompileOptions, "target">): { module: Module; records: PassRecord[]; counts: Record<string, number> } {
  const r = runPipeline(module, [lookupPass("name-nodes"), lookupPass("mark-kv-cache"), lookupPass("fuse-patterns"), lookupPass("dce")], {
    verifyEach: options.verifyEach ?? false, recordIR: options.recordIR ?? false, ...(options.onPass ? { onPass: options.onPass } : {}),
  });
  const counts = fusionCounts(r.module);
  if (opt > 0) return { module: r.module, records: [...r.records], counts };
  return { module: decomposeComposites(r.module, new Set(["Attention", "CacheAppend"])), records: [...r.records], counts: {} };
}

/** A model as loadFused returns it: the fused graph every plan of it starts from. */
export interface FusedModel {
  readonly graph: Module;
  readonly records: readonly PassRecord[];
  readonly counts: Record<string, number>;
}

/** Import and fuse a model: the graph every plan of it starts from (the serving simulation plans several). */
export async function loadFused(modelPath: string, options: Omit<CompileOptions, "target">): Promise<FusedModel> {
  const stage = options.onStage ?? (() => {});
  stage("import");
  const loaded = await loadModel(modelPath, {
    ...(options.passes !== undefined ? { passes: options.passes } : {}),
    verifyEach: options.verifyEach ?? false, recordIR: options.recordIR ?? false,
    ...(options.onPass ? { onPass: options.onPass } : {}),
  });
  stage("fuse");
  const fused = fuse(loaded.module, options.opt ?? 2, options);
  return { graph: fused.module, records: [...loaded.records, ...fused.records], counts: fused.counts };
}

/**
 * The model a plan names: its file name, its sha256 (the runtime checks the
 * file against it) and the path it was given, resolved (absolute, through
 * links), so the plan does not depend on the folder compile ran in.
 */
export interface ModelSource {
  readonly file: string;
  readonly sha256: string;
  readonly given: string;
}

export function modelSource(modelPath: string): ModelSource {
  return { file: basename(modelPath), sha256: sha256(modelPath), given: realpathSync(modelPath) };
}

const COMPILE_OPTIONS = {
  target: either(STRING, OBJECT), opt: oneOf([0, 1, 2]), phase: oneOf(["prefill", "decode"]), batch: POSITIVE_INTEGER,
  seq: POSITIVE_INTEGER, dtype: DTYPE, dims: mapOf(POSITIVE_INTEGER), passes: { what: "a string", ok: (v: unknown) => typeof v === "string" },
  verifyEach: BOOLEAN, recordIR: BOOLEAN, onPass: FUNCTION, onStage: FUNCTION, parallel: either(STRING, OBJECT), disaggregate: STRING,
} satisfies Record<keyof CompileOptions, Check>;

/**
 * Compile a model (ONNX, or graph IR text `.tfg`) for a target into a placement plan: load
 * and fuse, bind dims, lower to dataflow kernels, section, allocate units, place tensors in
 * the memory tiers and predict the time, each level verified at its boundary. With
 * `parallel` or `disaggregate` it plans the sockets of a node target. A bad option, an
 * unknown target, a model that does not load or does not fit the target, or a plan that
 * would be refused when run throws a TierflowError.
 *
 * @example
 * ```ts
 * import { compile, planToJson } from "tierflow";
 * import { writeFileSync } from "node:fs";
 *
 * const { plan } = await compile("examples/models/llama-tiny.dynamo.onnx", { target: "sn40l", opt: 2, phase: "decode", seq: 128 });
 * console.log(plan.prediction); // seconds per token, tokens/s, the roofline floor and the ratio
 * writeFileSync("llama-tiny.plan.json", planToJson(plan));
 * ```
 */
export async function compile(modelPath: string, options: CompileOptions): Promise<CompileResult> {
  checkArg("compile", "modelPath", modelPath, STRING);
  checkOptions("compile", "options", options, COMPILE_OPTIONS, ["target"]);
  const target = typeof options.target === "string" ? loadTarget(options.target) : options.target;
  const fused = await loadFused(modelPath, options);
  return compileModule(fused, modelSource(modelPath), { ...options, target });
}

/**
 * Compile an already loaded and fused model: several plans of one model (a
 * CoE's prefill and decode plans, other batch sizes) share one import and
 * fusion. `fused` must come from loadFused with the same opt and passes.
 */
export function compileModule(fused: FusedModel, model: ModelSource, options: CompileOptions): CompileResult {
  const stage = options.onStage ?? (() => {});
  const target = typeof options.target === "string" ? loadTarget(options.target) : options.target;
  const opt = options.opt ?? 2;
  const phase = options.phase ?? "prefill";
  const graph = fused.graph;
  // `--dim batch=2` or `--dim sequence=7` stands for --batch / --seq (a prompt length: prefill only) when those are not given.
  const { batch, seq } = resolveRequest(mainGraph(graph), {
    phase, ...(options.batch !== undefined ? { batch: options.batch } : {}), ...(options.seq !== undefined ? { seq: options.seq } : {}),
    ...(options.dims ? { dims: options.dims } : {}),
  });
  stage("lower");
  const tokenAxis = hasTokenAxis(mainGraph(graph));
  const lowerRequest = { phase, batch, seq, dtype: options.dtype, opt, tokenAxis, ...(options.dims ? { dims: options.dims } : {}) };
  const stageRun = { ...(options.recordIR ? { recordIR: true, print: printPlanState } : {}), ...(options.onPass ? { onPass: options.onPass } : {}) };
  if (options.parallel !== undefined || options.disaggregate !== undefined) {
    const parallel = runStages<PlanState>({
      target, graph, request: lowerRequest, layout: { parallel: options.parallel, disaggregate: options.disaggregate, onStage: stage },
    }, [PLAN_PARALLEL], {});
    const node = parallel.state.node!;
    const plan: Plan = {
      version: PLAN_VERSION,
      model: { file: model.file, sha256: model.sha256, given: model.given },
      target: target.name,
      options: { opt, phase, batch, seq, dtype: options.dtype ?? "f32" },
      bindings: node.dataflow.bindings,
      fusion: fused.counts,
      ...node.planParts,
    };
    const verified = runStages<PlanState>({ target, graph, plan }, [VERIFY_PLACEMENT], stageRun);
    return { plan, graph, dataflow: node.dataflow, records: [...fused.records, ...parallel.records, ...verified.records], target, ...(node.search ? { search: node.search } : {}) };
  }
  const lowered = lowerForTargetRecorded(graph, target, lowerRequest, { ...(options.recordIR ? { recordIR: true } : {}), ...(options.onPass ? { onPass: options.onPass } : {}) });
  const dataflow = lowered.dataflow;
  checkFitsSomewhere(dataflow, target);
  checkSingleSocketFits(dataflow, target, graph, lowerRequest);
  const socket = planSocket(dataflow, target, opt, { onStage: stage, ...(options.recordIR ? { recordIR: true } : {}), ...(options.onPass ? { onPass: options.onPass } : {}) }, lowerRequest);
  const { sections, placement } = socket;
  const seconds = sections.reduce((s, x) => s + x.cost.seconds, 0);
  const floor = rooflineFloor(dataflow, target);
  const plan: Plan = {
    version: PLAN_VERSION,
    model: { file: model.file, sha256: model.sha256, given: model.given },
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
      tokensPerSecond: seconds > 0 ? tokensPerPass(dataflow, batch, seq, tokenAxis) / seconds : 0,
      floorSeconds: floor.seconds,
      floorBound: floor.bound,
      ratioToFloor: floor.seconds > 0 ? seconds / floor.seconds : 1,
    },
  };
  const verified = runStages<PlanState>({ target, graph, plan }, [VERIFY_PLACEMENT], stageRun);
  return { plan, graph, dataflow, records: [...fused.records, ...lowered.records, ...socket.records, ...verified.records], target };
}

/** The plan level's state: the graph, a node-level layout's request and result, and the plan once assembled. */
interface PlanState {
  readonly target: Target;
  readonly graph: Module;
  readonly request?: LowerRequest;
  readonly layout?: NodeCompileOptions;
  readonly node?: NodeCompileResult;
  readonly plan?: Plan;
}

const printPlanState = (s: PlanState): string | undefined => (s.plan ? printPlacement(s.plan) : undefined);

const PLAN_PARALLEL = registerStage<PlanState>({
  name: "plan-parallel",
  summary: "plan a node-level layout (--parallel, --disaggregate): shard, insert collectives, cut pipeline stages, plan each socket",
  description: `The node-level passes (compiler/node): for the layout asked for, or each layout --parallel auto tries,
shard the graph's weights by tensor and expert parallelism with the collectives that join them,
cut pipeline stages, and plan every stage's socket program with the socket stages
(lower-to-dataflow ... cost); the plan's parallel block records the layout and each stage's sockets.`,
  from: "graph", to: "placement",
  run: (s) => {
    if (!s.request || !s.layout) fail("stage 'plan-parallel' needs a request and a layout");
    return { ...s, node: compileNodePlan(s.graph, s.target, s.request, s.layout) };
  },
});

const VERIFY_PLACEMENT = registerStage<PlanState>({
  name: "verify-placement",
  summary: "check the plan against the target and that the runtime would run it as placed",
  description: `The placement level's verifier (ir/placement/verify.ts: schema-level consistency, tier capacities,
sections and allocations) and the legality checks the runtime applies (ir/placement/legality.ts:
every tensor resident where and when it is read, in the runtime's words). A plan that would be
refused when run is never written. It changes nothing.`,
  from: "placement", to: "placement",
  run: (s) => {
    if (!s.plan) fail("stage 'verify-placement' runs on an assembled plan");
    verifyPlan(s.plan, s.target);
    checkRunnable(s.plan, s.target, s.graph);
    return s;
  },
});

/** Never hand out a plan the runtime would refuse: its legality, in the runtime's words; nor one whose prediction is not a number. */
function checkRunnable(plan: Plan, target: Target, graph: Module): void {
  const seconds = [plan.prediction.seconds, ...plan.sections.map((s) => s.cost.seconds)];
  if (!seconds.every(Number.isFinite)) {
    fail(`target '${target.name}': the predicted time is ${seconds.find((x) => !Number.isFinite(x))}, not a number of seconds: a figure of the target (a bandwidth, clock or rate) is too small or too large to cost with`);
  }
  // Decode plans of models without their own KV cache I/O are for the cost model: the runtime runs the others.
  if (!runsPlan(plan, indexBy(mainGraph(graph).nodes, (n) => n.name))) return;
  try {
    checkPlanLegality(plan, target, graph);
  } catch (err) {
    if (err instanceof TierflowError) fail(`the plan would be refused when run, so it is not written: ${err.message}`, err.location);
    throw err;
  }
}
