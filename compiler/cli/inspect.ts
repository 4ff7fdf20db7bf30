// `tierflow inspect MODEL`: what a model is and what one forward pass costs.

import { existsSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { Command } from "commander";
import { mainGraph } from "../../ir/graph/graph.js";
import type { Module } from "../../ir/graph/graph.js";
import { fail } from "../../ir/diagnostics.js";
import { printModule } from "../../ir/graph/printer.js";
import { summarize } from "../analysis/summary.js";
import type { ModelSummary } from "../analysis/summary.js";
import { loadModel } from "../load.js";
import { writeAtomically } from "../emit.js";
import { formatTimings } from "../passes/pipeline.js";
import { action } from "./run-command.js";
import { formatBytes, formatCount, formatDimCount, formatShape } from "../format.js";
import { addPipelineOptions, pipelineOptions } from "./pipeline-options.js";
import type { PipelineFlags } from "./pipeline-options.js";

interface InspectFlags extends PipelineFlags {
  json?: boolean;
  dim: string[];
  emit?: string;
  output?: string;
  top: string;
}

export function parseDimBindings(specs: readonly string[]): Map<string, number> {
  const dims = new Map<string, number>();
  for (const spec of specs) {
    const m = /^([A-Za-z_][A-Za-z0-9_.]*)=(\d+)$/.exec(spec.trim());
    if (!m) fail(`--dim '${spec}' must look like NAME=INTEGER (for example seq=2048)`);
    dims.set(m[1]!, Number(m[2]));
  }
  return dims;
}

function weightFiles(module: Module, modelPath: string): { file: string; present: boolean }[] {
  const files = new Set<string>();
  // Weights inside the model file itself are not a separate file to report.
  for (const c of mainGraph(module).constants.values()) if (c.kind === "weight" && c.ref.file !== module.source) files.add(c.ref.file);
  return [...files].sort().map((file) => ({ file, present: existsSync(join(dirname(modelPath), file)) }));
}

function formatSummary(s: ModelSummary, weights: { file: string; present: boolean }[]): string {
  const lines: string[] = [];
  const opsets = Object.entries(s.opsets).map(([d, v]) => `${d || "ai.onnx"} ${v}`).join(", ");
  lines.push(`model ${s.name}${s.producer ? ` (producer: ${s.producer})` : ""}, opsets: ${opsets}`);
  const width = Math.max(8, ...[...s.inputs, ...s.outputs].map((v) => v.name.length));
  lines.push("inputs:", ...s.inputs.map((v) => `  ${v.name.padEnd(width)}  ${v.dtype}${formatShape(v.shape)}`));
  lines.push("outputs:", ...s.outputs.map((v) => `  ${v.name.padEnd(width)}  ${v.dtype}${formatShape(v.shape)}`));
  const totalCount = Object.values(s.parameters).reduce((a, p) => a + p.count, 0);
  const totalBytes = Object.values(s.parameters).reduce((a, p) => a + p.bytes, 0);
  lines.push(`parameters: ${formatCount(totalCount)} (${totalCount}), ${formatBytes(totalBytes)}`);
  for (const [dtype, p] of Object.entries(s.parameters)) {
    lines.push(`  ${dtype.padEnd(5)} ${String(p.count).padStart(14)}  ${formatBytes(p.bytes)}`);
  }
  for (const w of weights) lines.push(`  weights file ${w.file}: ${w.present ? "present" : "absent (not needed to compile)"}`);
  lines.push(`nodes: ${s.nodes}`, "ops:");
  const opWidth = Math.max(...Object.keys(s.ops).map((k) => k.length), 4);
  const byCount = Object.entries(s.ops).sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1));
  for (const [op, n] of byCount) lines.push(`  ${op.padEnd(opWidth)}  ${n}`);
  const bound = Object.entries(s.dims).map(([k, v]) => `${k}=${v}`).join(", ");
  lines.push(`per forward pass${bound ? ` (${bound})` : ""}, every tensor through memory (unfused):`);
  lines.push(`  FLOPs:        ${formatDimCount(s.flops, "count")}`);
  for (const [op, f] of Object.entries(s.flopsByOp)) if (op === "MatMul" || op === "Gemm" || op === "Conv") lines.push(`    ${op.padEnd(10)}  ${formatDimCount(f, "count")}`);
  lines.push(`  bytes moved:  ${formatDimCount(s.bytesMoved, "bytes")}`);
  lines.push("largest tensors:");
  const nameWidth = Math.min(60, Math.max(...s.largest.map((t) => t.name.length), 4));
  for (const t of s.largest) {
    lines.push(`  ${t.name.padEnd(nameWidth)}  ${`${t.dtype}${formatShape(t.shape)}`.padEnd(28)}  ${formatDimCount(t.bytes, "bytes")}`);
  }
  return lines.join("\n");
}

export function registerInspect(program: Command): void {
  const cmd = program
    .command("inspect")
    .description("describe a model: interface, parameters, op histogram, FLOPs and bytes per forward pass")
    .argument("<model>", "an ONNX file (.onnx) or graph-level IR text (.tfg)")
    .option("--json", "print the summary as JSON")
    .option("--dim <name=value>", "give a symbolic dim a value (repeatable), e.g. --dim seq=2048",
      (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option("--emit <level>", "print the IR of a level (graph) instead of the summary, or write it to -o")
    .option("-o, --output <file>", "with --emit: write the IR to this file and print the summary")
    .option("--top <n>", "how many of the largest tensors to list", "10");
  addPipelineOptions(cmd);
  cmd.action(action(async (modelPath: string, flags: InspectFlags) => {
    if (flags.emit !== undefined && flags.emit !== "graph") fail(`--emit '${flags.emit}': the levels are: graph`);
    if (flags.output !== undefined && flags.emit === undefined) fail("-o/--output: inspect writes only the IR of --emit to a file; give --emit graph");
    const top = Number(flags.top);
    if (!Number.isInteger(top) || top < 0) fail(`--top '${flags.top}' must be a non-negative integer`);
    const dims = parseDimBindings(flags.dim);
    const { module, records } = await loadModel(modelPath, pipelineOptions(flags));
    // The IR alone on stdout, so what is emitted is a valid input; with -o it goes to the file and the summary to stdout.
    if (flags.emit === "graph" && flags.output === undefined) {
      process.stdout.write(printModule(module));
    } else {
      if (flags.emit === "graph") writeAtomically(dirname(flags.output!) || ".", basename(flags.output!), printModule(module));
      const summary = summarize(module, dims, top);
      const weights = modelPath.endsWith(".onnx") ? weightFiles(module, modelPath) : [];
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ ...summary, weightFiles: weights }, null, 2)}\n`);
      } else {
        process.stdout.write(`${formatSummary(summary, weights)}\n`);
      }
    }
    if (flags.timePasses) process.stderr.write(`${formatTimings(records)}\n`);
  }));
}
