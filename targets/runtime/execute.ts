// Execute a plan on the CPU reference backend exactly as it says: weights
// loaded and moved by the plan's load-time transfers, inputs moved host ->
// tier before section 0, then the sections in order and each section's kernels
// in order, every access checked against the plan's allocations (memory.ts),
// and the graph outputs read back from where the last section leaves them.
//
// Kernels of a section run one after another rather than as a concurrent
// pipeline, so a stream is held whole between its producer and consumers; it
// belongs to its section and is gone when the section ends.
//
// A node-level plan (one with a `parallel` part) runs on simulated sockets,
// each with its own arenas (parallel.ts).

import type { Graph, Module, Node } from "../../ir/graph/graph.js";
import { mainGraph } from "../../ir/graph/graph.js";
import type { Plan } from "../../ir/placement/plan.js";
import type { Tensor } from "../../ir/tensor.js";
import { allocate } from "../../ir/tensor.js";
import { dtypeBytes } from "../../ir/dtype.js";
import type { CacheIO, DfKernel } from "../../ir/dataflow/dataflow.js";
import { cachesOf } from "../../ir/dataflow/dataflow.js";
import { fail } from "../../ir/diagnostics.js";
import { RESIDENT_ROLES, checkPlanLegality, decodeRefusal, message } from "../../ir/placement/legality.js";
import { checkInputs } from "../reference/interpreter.js";
import type { Target } from "../../ir/target.js";
import { bytesToTensor, tensorToBytes } from "./bytes.js";
import type { Block } from "./arena.js";
import type { KernelEnv } from "./kernel-env.js";
import { runKernel } from "./kernels.js";
import { loadModelData } from "./load.js";
import { DeviceMemory } from "./memory.js";
import { executeParallelPlan } from "./parallel.js";
import type { TraceRecorder } from "./trace.js";
import type { Check } from "../../ir/arguments.js";
import { MODULE, OBJECT, STRING, checkArg, checkOptions, checkTensors, isObject } from "../../ir/arguments.js";

export interface ExecuteOptions {
  /** The graph module the plan's dataflow was lowered from (compile() gives it). */
  readonly graph: Module;
  readonly target: Target;
  /** Folder that the model's weight references are relative to. */
  readonly modelDir: string;
  readonly trace?: TraceRecorder;
}

export interface SectionTiming {
  readonly name: string;
  readonly predictedSeconds: number;
  readonly measuredSeconds: number;
}

export interface ExecuteResult {
  readonly outputs: Record<string, Tensor>;
  readonly sections: readonly SectionTiming[];
  /** Peak bytes held in each tier's arena during the run. */
  readonly peak: Readonly<Record<"sram" | "hbm" | "ddr", number>>;
}

/** The caller's inputs must have the shapes the plan was compiled for (a KV cache's past: the tokens it holds). */
function checkPlanInputs(plan: Plan, module: Module, inputs: Readonly<Record<string, Tensor>>): void {
  checkInputs(mainGraph(module), inputs);
  const tensors = new Map(plan.dataflow.tensors.map((t) => [t.name, t]));
  for (const name of [...plan.dataflow.inputs, ...cachesOf(plan.dataflow).map((c) => c.past)]) {
    if (!Object.hasOwn(inputs, name)) fail(message.planInput(name));
    const want = tensors.get(name)?.shape, got = inputs[name]!.dims;
    if (want && (want.length !== got.length || want.some((d, i) => d !== got[i]))) {
      fail(`input '${name}': the plan was compiled for shape [${want.join(", ")}], got [${got.join(", ")}]`);
    }
  }
}

const PLAN: Check = {
  what: "a Plan (compile(...).plan or readPlan(...))",
  ok: (v) => isObject(v) && Array.isArray(v.sections) && Array.isArray(v.allocations) && isObject(v.dataflow),
};
const EXECUTE_OPTIONS = {
  graph: MODULE, target: { what: "a Target (loadTarget(...))", ok: (v: unknown) => isObject(v) && typeof v.name === "string" },
  modelDir: STRING, trace: OBJECT,
} satisfies Record<keyof ExecuteOptions, Check>;

function checkExecuteArgs(fn: string, plan: unknown, inputs: unknown, options: unknown): void {
  checkArg(fn, "plan", plan, PLAN);
  checkTensors(fn, "inputs", inputs);
  checkOptions(fn, "options", options, EXECUTE_OPTIONS, ["graph", "target", "modelDir"]);
}

export function executePlan(plan: Plan, inputs: Readonly<Record<string, Tensor>>, options: ExecuteOptions): ExecuteResult {
  checkExecuteArgs("executePlan", plan, inputs, options);
  // Everything this run would refuse about the plan, refused before a byte moves, in the words `tierflow verify` uses.
  checkPlanLegality(plan, options.target, options.graph);
  return runPlacedPlan(plan, inputs, options);
}

/**
 * The run itself, every access checked as it happens. executePlan checks the
 * plan's legality first, so these checks never fire on a plan it runs; the
 * tests run plans here directly to hold the two to the same words.
 */
export function runPlacedPlan(plan: Plan, inputs: Readonly<Record<string, Tensor>>, options: ExecuteOptions): ExecuteResult {
  checkExecuteArgs("runPlacedPlan", plan, inputs, options);
  if (plan.sections.length === 0) fail(message.noSections);
  if (plan.parallel) {
    if (plan.dataflow.phase !== "prefill") fail(message.decodeNode);
    return executeParallelPlan(plan, inputs, options);
  }
  return new PlanSession(plan, options).run(inputs);
}

export interface RunOptions {
  /** Tokens the KV caches hold before this run (a generation step); the past inputs' length when absent. */
  readonly cacheTokens?: number;
  /** Graph outputs to read back (all when absent): a generation step needs the logits, not the caches. */
  readonly outputs?: readonly string[];
}

/**
 * A single-socket plan loaded once and run one or more times on the same
 * memory: weights, constants and the graph's KV caches stay where the plan put
 * them between runs, so a generation session's decode steps append to the
 * cache the step before left (generate.ts). Each run moves its inputs in, runs
 * the sections and reads its outputs back.
 */
export class PlanSession {
  private readonly memory: DeviceMemory;
  private readonly graph: Graph;
  private readonly env: KernelEnv;
  private readonly nodes: ReadonlyMap<string, Node>;
  private readonly kernels: ReadonlyMap<string, DfKernel>;
  private readonly caches: readonly CacheIO[];
  private readonly peak = { sram: 0, hbm: 0, ddr: 0 };
  private runs = 0;

  constructor(readonly plan: Plan, private readonly options: ExecuteOptions) {
    if (plan.parallel) fail("a plan session runs single-socket plans");
    this.graph = mainGraph(options.graph);
    this.nodes = new Map<string, Node>(this.graph.nodes.map((n) => [n.name, n]));
    const refusal = plan.dataflow.phase !== "prefill" ? decodeRefusal(plan, this.nodes) : undefined;
    if (refusal) fail(refusal);
    if (plan.sections.length === 0) fail(message.noSections);
    const trace = options.trace;
    this.memory = new DeviceMemory(plan, options.target, (tier, used) => {
      this.peak[tier] = Math.max(this.peak[tier], used);
      trace?.occupancy(tier, used);
    });
    const literals = new Map<string, Tensor>();
    for (const [name, c] of this.graph.constants) if (c.kind === "literal") literals.set(name, c.tensor);
    for (const [name, t] of literals) this.memory.host.set(name, t);
    this.env = { memory: this.memory, opset: options.graph.opsets[""] ?? 0, graphTypes: this.graph.types, literals };
    this.kernels = new Map(plan.dataflow.kernels.map((k) => [k.name, k]));
    this.caches = cachesOf(plan.dataflow);
    loadModelData(plan, this.graph, this.memory, options.modelDir, trace);
  }

  /** The caches' tokens before a step: rows [0, held) of each (batch, head) from `value` [batch, kv_heads, held, head_dim], the rest zero. */
  fillCache(present: string, value: Tensor, who = `filling the KV cache '${present}'`): void {
    const info = this.memory.info(present);
    const [, , capacity, width] = info.shape as [number, number, number, number];
    const held = value.dims[2] ?? 0;
    if (value.dims.length !== 4 || [0, 1, 3].some((a) => value.dims[a] !== info.shape[a]) || held > capacity) {
      fail(`${who}: [${value.dims.join(", ")}] does not fit the cache's [${info.shape.join(", ")}]`);
    }
    const section = this.memory.section;
    this.memory.section = -1;
    const dest = this.memory.destination(present, who);
    this.memory.section = section;
    const bytes = tensorToBytes(value, info.dtype), row = width * dtypeBytes(info.dtype);
    dest.data.fill(0);
    for (let bh = 0; bh < value.dims[0]! * value.dims[1]!; bh++) {
      dest.data.set(bytes.subarray(bh * held * row, (bh + 1) * held * row), bh * capacity * row);
    }
    dest.commit();
  }

  /** The caches' contents as a tensor of their full capacity (the session's state, for handing over). */
  readCache(present: string): Tensor {
    const info = this.memory.info(present);
    const dtype = this.graph.types.get(present)?.dtype ?? info.dtype;
    return bytesToTensor(this.memory.read(present, `the host, reading the KV cache '${present}'`).slice(), info.dtype, dtype, info.shape);
  }

  run(inputs: Readonly<Record<string, Tensor>>, options: RunOptions = {}): ExecuteResult {
    const { plan, memory, graph, env } = this;
    const trace = this.options.trace;
    const given = { ...inputs };
    // A prefill starts from empty caches: their past inputs may be left out.
    for (const c of this.caches) {
      if (plan.dataflow.phase === "prefill" && !Object.hasOwn(given, c.past)) {
        const info = memory.info(c.past);
        given[c.past] = { dtype: graph.types.get(c.past)?.dtype ?? info.dtype, dims: info.shape, data: allocate(graph.types.get(c.past)?.dtype ?? info.dtype, 0) };
      }
    }
    const session = options.cacheTokens !== undefined;
    if (!session) checkPlanInputs(plan, this.options.graph, given);
    else checkStepInputs(plan, this.options.graph, given, this.caches);
    for (const name of graph.inputs) if (given[name]) memory.host.set(name, given[name]);
    // A decode run given its caches' past starts from them (a session's steps start from the step before).
    if (plan.dataflow.phase === "decode" && !session) for (const c of this.caches) this.fillCache(c.present, given[c.past]!, `filling the KV cache '${c.present}' from '${c.past}'`);
    const runEnv: KernelEnv = options.cacheTokens !== undefined ? { ...env, cacheTokens: options.cacheTokens } : env;
    const roles = new Map(plan.dataflow.tensors.map((t) => [t.name, t.role]));
    const keep = (block: Block) => {
      const role = roles.get(block.tensor);
      return role !== undefined && (RESIDENT_ROLES.has(role) || role === "kv-cache");
    };
    const wanted = new Set(options.outputs ?? graph.outputs);
    const outputs = Object.create(null) as Record<string, Tensor>; // value names such as "__proto__" stay plain keys
    const sections: SectionTiming[] = [];
    plan.sections.forEach((section, s) => {
      const start = performance.now(), traceStart = trace?.now() ?? 0;
      memory.beginSection(s);
      trace?.sectionStarted(s);
      plan.transfers.forEach((t, i) => {
        if (t.beforeSection !== s) return;
        const at = trace?.now() ?? 0;
        memory.transfer(t, `transfer ${i} (${t.from} -> ${t.to})`);
        trace?.transfer(t, i, at);
      });
      for (const ka of section.kernels) {
        const k = this.kernels.get(ka.kernel);
        if (!k) fail(message.unknownKernel(section.name, ka.kernel));
        const at = trace?.now() ?? 0;
        const tiles = runKernel(k, runEnv, this.nodes);
        trace?.kernel(k, s, at, tiles);
      }
      if (s === plan.sections.length - 1) {
        for (const name of new Set(graph.outputs)) {
          if (!wanted.has(name)) continue;
          const at = trace?.now() ?? 0;
          const bytes = memory.read(name, `the host, reading graph output '${name}' back after ${memory.label(s).replace(/^in /, "")},`);
          const info = memory.info(name);
          const dtype = graph.types.get(name)?.dtype ?? info.dtype;
          outputs[name] = bytesToTensor(bytes.slice(), info.dtype, dtype, info.shape);
          trace?.readback(name, at);
        }
      }
      memory.endSection(s, session ? keep : undefined);
      trace?.section(s, traceStart);
      sections.push({ name: section.name, predictedSeconds: section.cost.seconds, measuredSeconds: (performance.now() - start) / 1000 });
    });
    this.runs++;
    return { outputs, sections, peak: { ...this.peak } };
  }
}

/** A session's later steps: the same inputs the plan was compiled for, the caches' past aside (the session holds it). */
function checkStepInputs(plan: Plan, module: Module, inputs: Readonly<Record<string, Tensor>>, caches: readonly CacheIO[]): void {
  const pasts = new Set(caches.map((c) => c.past));
  const tensors = new Map(plan.dataflow.tensors.map((t) => [t.name, t]));
  for (const name of mainGraph(module).inputs) {
    if (pasts.has(name)) continue;
    const got = inputs[name];
    if (!got) fail(`missing input '${name}'`);
    const want = tensors.get(name)?.shape;
    if (want && (want.length !== got.dims.length || want.some((d, i) => d !== got.dims[i]))) {
      fail(`input '${name}': the plan was compiled for shape [${want.join(", ")}], got [${got.dims.join(", ")}]`);
    }
  }
}
