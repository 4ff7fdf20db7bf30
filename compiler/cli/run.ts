// `tierflow run MODEL --input NAME=FILE ...`: compile with the default pipeline,
// then execute on the reference backend and print or save the outputs.

import { dirname, join, resolve } from "node:path";
import type { Command } from "commander";
import { mainGraph } from "../../ir/graph/graph.js";
import type { Graph } from "../../ir/graph/graph.js";
import { fail } from "../../ir/diagnostics.js";
import type { Tensor } from "../../ir/tensor.js";
import { valuesAsNumbers } from "../../ir/tensor.js";
import { run } from "../../targets/reference/interpreter.js";
import type { NodeTiming } from "../../targets/reference/interpreter.js";
import { TENSOR_FORMATS, readTensorFile, writeTensorFile } from "../tensor-files.js";
import type { TensorFormat } from "../tensor-files.js";
import { loadModel } from "../load.js";
import { formatTimings } from "../passes/pipeline.js";
import { ensureDir } from "../emit.js";
import { action } from "./run-command.js";
import { addPipelineOptions, pipelineOptions } from "./pipeline-options.js";
import { isPlanPath, runPlanFile } from "./run-plan.js";
import { isCoeDir, runCoeCommand } from "./coe.js";
import type { PipelineFlags } from "./pipeline-options.js";

export interface RunFlags extends PipelineFlags {
  input: string[];
  output?: string;
  format?: string;
  profile?: boolean;
  json?: boolean;
  /** Plans only (see run-plan.ts). */
  model?: string;
  target?: string;
  timeline?: string;
  /** Plans only: refuse a plan that keeps more than this many MiB resident. */
  maxMemory?: string;
  /** CoE folders only (see coe.ts). */
  request: string[];
  tokens: string;
  expert?: string;
  manifest?: string;
}

const PREVIEW_VALUES = 8;

/** NAME=FILE specs -> input tensors; a bare FILE is allowed when the model has one input. */
export function readInputs(specs: readonly string[], graph: Graph): Record<string, Tensor> {
  const inputs = Object.create(null) as Record<string, Tensor>; // value names such as "__proto__" stay plain keys
  for (const spec of specs) {
    const eq = spec.indexOf("=");
    let name: string, file: string;
    if (eq > 0) {
      name = spec.slice(0, eq);
      file = spec.slice(eq + 1);
    } else if (graph.inputs.length === 1) {
      name = graph.inputs[0]!;
      file = spec;
    } else {
      fail(`--input '${spec}' must look like NAME=FILE (the model's inputs are: ${graph.inputs.join(", ") || "none"})`);
    }
    if (file === "") fail(`--input '${spec}' names no file`);
    if (Object.hasOwn(inputs, name)) fail(`input '${name}' is given twice`);
    const dtype = graph.types.get(name)?.dtype;
    inputs[name] = readTensorFile(file, dtype ? { dtype } : {});
  }
  return inputs;
}

function formatValue(v: number | bigint, dtype: string): string {
  if (typeof v === "bigint") return v.toString();
  if (dtype === "bool") return v ? "true" : "false";
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
}

function preview(t: Tensor): string {
  const shown = Array.from(t.data.subarray(0, PREVIEW_VALUES) as ArrayLike<number | bigint>, (v) => formatValue(v, t.dtype));
  const more = t.data.length > PREVIEW_VALUES ? `, ... (${t.data.length} values)` : "";
  return `[${shown.join(", ")}${more}]`;
}

/** A file name for an output value: path separators and odd characters become '_', and it never starts with '.'. */
export function outputFileName(name: string, format: TensorFormat): string {
  const safe = name.replace(/[^A-Za-z0-9._-]/g, "_");
  return `${safe === "" || safe.startsWith(".") ? `_${safe}` : safe}.${format}`;
}

/** Per-op-type totals, largest first; a fused step counts under its label with all the nodes it ran. */
export function formatProfile(timings: readonly NodeTiming[]): string {
  const byOp = new Map<string, { ms: number; nodes: number }>();
  for (const t of timings) {
    const entry = byOp.get(t.op) ?? { ms: 0, nodes: 0 };
    entry.ms += t.ms;
    entry.nodes += t.covers?.length ?? 1;
    byOp.set(t.op, entry);
  }
  const total = timings.reduce((s, t) => s + t.ms, 0), nodes = timings.reduce((s, t) => s + (t.covers?.length ?? 1), 0);
  const rows = [...byOp].sort(([a, x], [b, y]) => y.ms - x.ms || (a < b ? -1 : 1));
  const width = Math.max(4, ...rows.map(([op]) => op.length));
  const lines = rows.map(([op, { ms, nodes }]) =>
    `  ${op.padEnd(width)}  ${ms.toFixed(3).padStart(10)} ms  ${(total ? (100 * ms) / total : 0).toFixed(1).padStart(5)}%  ${nodes} node${nodes === 1 ? "" : "s"}`);
  const steps = timings.length === nodes ? "" : ` in ${timings.length} steps`;
  return [`op time (${total.toFixed(3)} ms total, ${nodes} nodes${steps}):`, ...lines].join("\n");
}

export function registerRun(program: Command): void {
  const cmd = program
    .command("run")
    .description("run a model, or execute a plan as placed, on the reference backend and print or save its outputs")
    .argument("<model>", "an ONNX file (.onnx), graph-level IR text (.tfg), or a plan (.json) to execute as it is placed")
    .option("--input <name=file>", "an input tensor from a .npy, .pb (TensorProto) or .json file (repeatable)",
      (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option("--output <dir>", "write each output to DIR/NAME.<format> instead of printing a preview")
    .option("--format <format>", `file format of --output: ${TENSOR_FORMATS.join(", ")} (default npy; bf16 is written as f32 in .npy)`)
    .option("--profile", "print the time spent per op type, or per section of a plan (to stderr)")
    .option("--json", "print the outputs (name, dtype, dims, the file written, or the values when not written) as JSON (compiler/cli/schemas/run.schema.json)")
    .option("--model <file>", "plans: the model file the plan was compiled from (default: beside the plan)")
    .option("--target <file>", "plans: the target file of a plan compiled for a custom target")
    .option("--timeline <file>", "plans: write the run's timeline as Chrome trace-event JSON (open it in Perfetto)")
    .option("--max-memory <MiB>", "plans: refuse a plan that keeps more than this many MiB resident (all tiers at their peaks)")
    .option("--request <ids>", "CoE (OUT/ with coe-plan.json): prompt token ids, comma-separated (repeatable)", (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option("--tokens <n>", "CoE: greedy tokens to generate per request", "3")
    .option("--expert <name>", "CoE: skip the router and use this expert")
    .option("--manifest <file>", "CoE: the manifest (default: the one the CoE was compiled from)");
  addPipelineOptions(cmd);
  cmd.action(action(async (modelPath: string, flags: RunFlags) => {
    const format = (flags.format ?? "npy") as TensorFormat;
    if (!TENSOR_FORMATS.includes(format)) fail(`--format '${flags.format}': the formats are: ${TENSOR_FORMATS.join(", ")}`);
    if (flags.format !== undefined && flags.output === undefined) fail("--format applies to files written with --output");
    if (isCoeDir(modelPath)) {
      if (flags.json) fail("--json: for a model or a plan; a CoE run prints each request's route and ids");
      await runCoeCommand(modelPath, flags);
      return;
    }
    if (isPlanPath(modelPath)) {
      const { graph, outputs } = await runPlanFile(modelPath, flags, readInputs);
      emitOutputs(graph, outputs, flags.output, format, flags.json === true);
      return;
    }
    for (const flag of ["model", "target", "timeline"] as const) if (flags[flag] !== undefined) fail(`--${flag} applies to plans (PLAN.json), not to models`);
    const { module, records } = await loadModel(modelPath, pipelineOptions(flags));
    const graph = mainGraph(module);
    const inputs = readInputs(flags.input, graph);
    const result = run(module, inputs, { modelDir: dirname(resolve(modelPath)), profile: flags.profile ?? false });
    emitOutputs(graph, result.outputs, flags.output, format, flags.json === true);
    if (flags.timePasses) process.stderr.write(`${formatTimings(records)}\n`);
    if (result.profile) process.stderr.write(`${formatProfile(result.profile)}\n`);
  }));
}

/** Print a preview of each output, or write each to DIR/NAME.<format>. */
function emitOutputs(graph: Graph, outputs: Readonly<Record<string, Tensor>>, dir: string | undefined, format: TensorFormat, json = false): void {
  const names = [...new Set(graph.outputs)];
  const written = new Map<string, string>();
  const document = () => ({
    outputs: names.map((name) => {
      const t = outputs[name]!;
      const file = written.get(name);
      return { name, dtype: t.dtype, dims: [...t.dims], ...(file !== undefined ? { file } : { values: valuesAsNumbers(t) }) };
    }),
  });
  if (dir === undefined && json) {
    process.stdout.write(`${JSON.stringify(document())}\n`);
    return;
  }
  if (dir === undefined) {
    const width = Math.max(...names.map((n) => n.length), 1);
    for (const name of names) {
      const t = outputs[name]!;
      process.stdout.write(`${name.padEnd(width)}  ${`${t.dtype}[${t.dims.join(", ")}]`.padEnd(16)}  ${preview(t)}\n`);
    }
    return;
  }
  const files = new Map<string, string>();
  for (const name of names) {
    const file = outputFileName(name, format);
    const other = files.get(file);
    if (other !== undefined) fail(`outputs '${other}' and '${name}' would both be written to ${file}`);
    files.set(file, name);
  }
  ensureDir(dir);
  for (const [file, name] of files) {
    const path = join(dir, file);
    const t = outputs[name]!;
    writeTensorFile(path, t, format, name);
    written.set(name, path);
    if (!json) process.stdout.write(`${name}  ${t.dtype}[${t.dims.join(", ")}]  -> ${path}\n`);
  }
  if (json) process.stdout.write(`${JSON.stringify(document(), null, 2)}\n`);
}
