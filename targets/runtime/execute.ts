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

import type { Module, Node } from "../../ir/graph/graph.js";
import { mainGraph } from "../../ir/graph/graph.js";
import type { Plan } from "../../ir/placement/plan.js";
import type { Tensor } from "../../ir/tensor.js";
import { fail } from "../../ir/diagnostics.js";
import { checkPlanLegality, message } from "../../ir/placement/legality.js";
import { checkInputs } from "../reference/interpreter.js";
import type { Target } from "../target.js";
import { bytesToTensor } from "./bytes.js";
import type { KernelEnv } from "./kernel-env.js";
import { runKernel } from "./kernels.js";
import { loadModelData } from "./load.js";
import { DeviceMemory } from "./memory.js";
import { executeParallelPlan } from "./parallel.js";
import type { TraceRecorder } from "./trace.js";

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

/** The caller's inputs must have the shapes the plan was compiled for. */
function checkPlanInputs(plan: Plan, module: Module, inputs: Readonly<Record<string, Tensor>>): void {
  checkInputs(mainGraph(module), inputs);
  const tensors = new Map(plan.dataflow.tensors.map((t) => [t.name, t]));
  for (const name of plan.dataflow.inputs) {
    const want = tensors.get(name)?.shape, got = inputs[name]!.dims;
    if (want && (want.length !== got.length || want.some((d, i) => d !== got[i]))) {
      fail(`input '${name}': the plan was compiled for shape [${want.join(", ")}], got [${got.join(", ")}]`);
    }
  }
}

export function executePlan(plan: Plan, inputs: Readonly<Record<string, Tensor>>, options: ExecuteOptions): ExecuteResult {
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
  if (plan.dataflow.phase !== "prefill") fail(message.decode);
  if (plan.sections.length === 0) fail(message.noSections);
  if (plan.parallel) return executeParallelPlan(plan, inputs, options);
  checkPlanInputs(plan, options.graph, inputs);
  const graph = mainGraph(options.graph);
  const nodes = new Map<string, Node>(graph.nodes.map((n) => [n.name, n]));
  const trace = options.trace;
  const peak = { sram: 0, hbm: 0, ddr: 0 };
  const memory = new DeviceMemory(plan, options.target, (tier, used) => {
    peak[tier] = Math.max(peak[tier], used);
    trace?.occupancy(tier, used);
  });
  const literals = new Map<string, Tensor>();
  for (const [name, c] of graph.constants) if (c.kind === "literal") literals.set(name, c.tensor);
  for (const [name, t] of literals) memory.host.set(name, t);
  for (const name of graph.inputs) memory.host.set(name, inputs[name]!);
  const env: KernelEnv = { memory, opset: options.graph.opsets[""] ?? 0, graphTypes: graph.types, literals };
  const kernels = new Map(plan.dataflow.kernels.map((k) => [k.name, k]));

  loadModelData(plan, graph, memory, options.modelDir, trace);
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
      const k = kernels.get(ka.kernel);
      if (!k) fail(message.unknownKernel(section.name, ka.kernel));
      const at = trace?.now() ?? 0;
      const tiles = runKernel(k, env, nodes);
      trace?.kernel(k, s, at, tiles);
    }
    if (s === plan.sections.length - 1) {
      for (const name of new Set(graph.outputs)) {
        const at = trace?.now() ?? 0;
        const bytes = memory.read(name, `the host, reading graph output '${name}' back after ${memory.label(s).replace(/^in /, "")},`);
        const info = memory.info(name);
        const dtype = graph.types.get(name)?.dtype ?? info.dtype;
        outputs[name] = bytesToTensor(bytes.slice(), info.dtype, dtype, info.shape);
        trace?.readback(name, at);
      }
    }
    memory.endSection(s);
    trace?.section(s, traceStart);
    sections.push({ name: section.name, predictedSeconds: section.cost.seconds, measuredSeconds: (performance.now() - start) / 1000 });
  });
  return { outputs, sections, peak };
}
