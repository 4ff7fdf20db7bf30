// `tierflow compile MODEL --target T -O2 -o OUT/`: a placement plan and its report.

import type { Command } from "commander";
import { fail } from "../../ir/diagnostics.js";
import type { DType } from "../../ir/dtype.js";
import { printModule } from "../../ir/graph/printer.js";
import { compile } from "../compile.js";
import { formatReport, reportJson } from "../report.js";
import { ensureDir, writeFolder } from "../emit.js";
import { formatTimings } from "../passes/pipeline.js";
import { action } from "./run-command.js";
import { withProgress } from "./progress.js";
import { parseOptLevel, parsePlanDType, positiveInt } from "./options.js";
import { parseDimBindings } from "./inspect.js";
import { addPipelineOptions, pipelineOptions } from "./pipeline-options.js";
import type { PipelineFlags } from "./pipeline-options.js";
import { planInFolder } from "../plan-json.js";
import { planJsonChunks } from "../plan-json-chunks.js";
import { renderPlanHtml } from "../viz/render.js";
import { compileManifest } from "./coe.js";
import { parseParallel } from "../node/layout.js";
import { parseDisaggregate } from "../node/compile-node.js";
import { loadTarget } from "../../targets/target.js";
import { withKernelLooping } from "../cost/efficiency.js";

interface CompileFlags extends PipelineFlags {
  target?: string;
  O: string;
  phase: string;
  batch?: string;
  seq?: string;
  dtype?: string;
  dim: string[];
  output: string;
  quiet?: boolean;
  json?: boolean;
  viz?: boolean;
  parallel?: string;
  disaggregate?: string;
  sockets?: string;
  kernelLooping?: boolean;
}

export function registerCompile(program: Command): void {
  const cmd = program
    .command("compile")
    .description("compile a model into a placement plan for a target: plan.json, the IR of each level and report.txt")
    .argument("<model>", "an ONNX file (.onnx), graph-level IR text (.tfg) or a Composition of Experts manifest (.json, docs/COE.md)")
    .option("-t, --target <target>", "a preset (see `tierflow targets`) or a target JSON file; a CoE manifest's \"target\" is the default")
    .option("-O <level>", "optimisation level: 0 one op per section, 1 pattern fusion, 2 stream as much as fits", "2")
    .option("--phase <phase>", "prefill or decode", "prefill")
    .option("--batch <n>", "requests in the batch (default 1, or a --dim on the batch dim)")
    .option("--seq <n>", "prompt length (prefill) or context length (decode) (default 128, or a --dim on the sequence dim in prefill)")
    .option("--dtype <dtype>", "plan floating-point data in this dtype (e.g. bf16 for a float32 export)")
    .option("--dim <name=value>", "give a symbolic dim a value (repeatable); on a batch or sequence dim it stands for --batch / --seq", (v: string, acc: string[]) => [...acc, v], [] as string[])
    .requiredOption("-o, --output <dir>", "folder for plan.json, report.txt and the IR of each level (graph.tfg, dataflow.tfd, placement.tfp)")
    .option("-q, --quiet", "do not print the report or progress")
    .option("--json", "print the report as JSON (compiler/cli/schemas/compile.schema.json) instead of text, and no progress")
    .option("--viz", "also write plan.html, the plan visualiser")
    .option("--parallel <layout>", "node targets: tp=N,pp=N,ep=N,dp=N,mb=N (e.g. tp=4,pp=2), or auto to try every layout and print the table")
    .option("--disaggregate <groups>", "node targets: prefill=P,decode=D plans prefill and decode on separate groups of sockets")
    .option("--sockets <n>", "CoE manifests on a single-socket target: sockets (or GPUs) in the node (default 8)")
    .option("--kernel-looping", "dataflow targets with a looped decoder (the sn40l presets): plan a repeated layer's kernel calls as one pipelined loop (Kernel Looping, arXiv 2410.23668)");
  addPipelineOptions(cmd);
  cmd.action(action(async (modelPath: string, flags: CompileFlags) => {
    const opt = parseOptLevel(flags.O);
    const phase = flags.phase;
    if (phase !== "prefill" && phase !== "decode") fail(`--phase '${phase}': use prefill or decode`);
    parsePlanDType(flags.dtype);
    const given = (...names: string[]) => names.filter((n) => cmd.getOptionValueSource(n) === "cli").map((n) => `--${n.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
    if (modelPath.endsWith(".json")) {
      // A manifest compiles each expert's prefill and decode plans itself: flags for one model's plan would be ignored.
      const oneModel = [...given("phase", "parallel", "disaggregate", "passes", "printIrAfterAll", "timePasses", "verifyEach", "json"), ...(flags.dim.length > 0 ? ["--dim"] : [])];
      if (oneModel.length > 0) {
        fail(`${oneModel.join(", ")}: not for a CoE manifest, which plans each expert's prefill and decode itself over the manifest's target (docs/COE.md); give ${oneModel.length > 1 ? "them" : "it"} when compiling one model`, { file: modelPath });
      }
      await compileManifest(modelPath, {
        ...(flags.target !== undefined ? { target: flags.target } : {}), ...(flags.kernelLooping ? { kernelLooping: true } : {}), opt, batch: positiveInt(flags.batch ?? "1", "--batch"), seq: positiveInt(flags.seq ?? "128", "--seq"), output: flags.output,
        ...(flags.sockets !== undefined ? { sockets: positiveInt(flags.sockets, "--sockets") } : {}), ...(flags.dtype !== undefined ? { dtype: flags.dtype } : {}),
        ...(flags.quiet ? { quiet: true } : {}), ...(flags.viz ? { viz: true } : {}),
      });
      return;
    }
    const targetSpec = flags.target;
    if (targetSpec === undefined) fail("no target: give one with --target (e.g. sn40l; `tierflow targets` lists them)");
    const target = flags.kernelLooping ? withKernelLooping(loadTarget(targetSpec)) : targetSpec;
    if (flags.sockets !== undefined) fail("--sockets: only for a CoE manifest on a single-socket target; for one model, use a node target (sn40l-node, dgx-h100, ...) with --parallel");
    // Layout mistakes are caught before the model is read, not after it is lowered.
    if (flags.parallel !== undefined || flags.disaggregate !== undefined) {
      if (flags.parallel !== undefined) parseParallel(flags.parallel);
      const node = typeof target === "string" ? loadTarget(target) : target;
      if (flags.disaggregate !== undefined) parseDisaggregate(flags.disaggregate, node.node?.sockets ?? 1);
      if (!node.node) fail(`${given("parallel", "disaggregate").join(", ")} needs a node target (one with several sockets); ${node.name} is one socket: try sn40l-node, dgx-h100 or dgx-a100`);
    }
    // Progress is for a person at a terminal (progress.ts): piped into a script, stderr carries only diagnostics,
    // and with --print-ir-after-all it carries the IR.
    const show = { quiet: flags.quiet || flags.printIrAfterAll, json: flags.json };
    const { result, report } = await withProgress("compile", show, async (progress) => {
      const result = await compile(modelPath, {
        target, opt, phase,
        ...(flags.batch !== undefined ? { batch: positiveInt(flags.batch, "--batch") } : {}),
        ...(flags.seq !== undefined ? { seq: positiveInt(flags.seq, "--seq") } : {}),
        ...(flags.dtype ? { dtype: flags.dtype as DType } : {}),
        dims: parseDimBindings(flags.dim), ...pipelineOptions(flags), onStage: progress.stage,
        ...(flags.parallel !== undefined ? { parallel: flags.parallel } : {}),
        ...(flags.disaggregate !== undefined ? { disaggregate: flags.disaggregate } : {}),
      });
      progress.stage("write");
      const report = formatReport(result.plan, result.target, result.search);
      // The lower levels' text forms share a parser library that is slow to load: only compile pays for it.
      const { printDataflowPieces } = await import("../../ir/dataflow/text.js");
      const { printPlacementPieces } = await import("../../ir/placement/text.js");
      ensureDir(flags.output); // the plan records its model's path relative to its folder, which must exist
      const plan = planInFolder(result.plan, flags.output);
      // One step: a plan that cannot be written leaves the folder as it was, and plan.json comes last.
      writeFolder(flags.output, [
        ["graph.tfg", () => printModule(result.graph)], ["dataflow.tfd", () => printDataflowPieces(result.dataflow)],
        ["placement.tfp", () => printPlacementPieces(plan)], ["report.txt", () => report],
        ...(flags.viz ? [["plan.html", () => renderPlanHtml(result.plan, result.target, { passes: result.records })] as const] : []),
        ["plan.json", () => planJsonChunks(plan)],
      ]);
      return { result, report };
    });
    if (flags.json) process.stdout.write(`${JSON.stringify(reportJson(result.plan, flags.output), null, 2)}\n`);
    else if (!flags.quiet) process.stdout.write(report);
    if (flags.timePasses) process.stderr.write(`${formatTimings(result.records)}\n`);
  }));
}
