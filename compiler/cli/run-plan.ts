// `tierflow run PLAN.json --input NAME=FILE ... [--model MODEL] [--timeline FILE]`:
// execute a plan on the CPU reference backend as it is placed (tiers,
// addresses, transfers, sections, tiles), refusing a plan that does not match
// its model file, is from a newer tierflow, or fails verification. With
// --timeline, a Chrome trace-event JSON of predicted and measured times.

import { basename, dirname, resolve } from "node:path";
import type { Graph } from "../../ir/graph/graph.js";
import { mainGraph } from "../../ir/graph/graph.js";
import type { Tensor } from "../../ir/tensor.js";
import type { Plan } from "../../ir/placement/plan.js";
import { fail } from "../../ir/diagnostics.js";
import type { SectionTiming } from "../../targets/runtime/execute.js";
import { executePlan } from "../../targets/runtime/execute.js";
import { openPlan } from "../open-plan.js";
import { TraceRecorder } from "../../targets/runtime/trace.js";
import { ensureDir, writeAtomically } from "../emit.js";
import type { RunFlags } from "./run.js";

/** NAME=FILE specs -> tensors for the graph's inputs (run.ts's reader, passed in to keep the modules acyclic). */
export type InputReader = (specs: readonly string[], graph: Graph) => Record<string, Tensor>;

/** The bytes a plan keeps resident at its peak: the sum over tiers of its peak occupancy. */
export function residentBytes(plan: Plan): number {
  return Object.values(plan.occupancy).reduce((sum, bytes) => sum + bytes, 0);
}

/** `--max-memory MiB`: refuse, before its weights are read or its arenas filled, a plan whose resident bytes exceed it. */
export function checkMaxMemory(plan: Plan, maxMemory: string | undefined): void {
  if (maxMemory === undefined) return;
  const mib = Number(maxMemory);
  if (!/^\d+$/.test(maxMemory) || !Number.isSafeInteger(mib) || mib < 1) fail(`--max-memory '${maxMemory}' must be a positive whole number of MiB`);
  const bytes = residentBytes(plan);
  if (bytes > mib * 2 ** 20) {
    fail(`the plan keeps ${(bytes / 2 ** 20).toFixed(1)} MiB resident (sram, hbm and ddr at their peaks), over --max-memory ${mib} MiB`);
  }
}

export function isPlanPath(path: string): boolean {
  return path.toLowerCase().endsWith(".json");
}

/** Predicted and measured seconds per section, slowest measured first. */
export function formatSectionTimes(sections: readonly SectionTiming[]): string {
  const rows = [...sections].sort((a, b) => b.measuredSeconds - a.measuredSeconds);
  const width = Math.max(7, ...rows.map((r) => r.name.length));
  const ms = (s: number) => `${(s * 1e3).toFixed(3).padStart(10)} ms`;
  const predicted = sections.reduce((s, r) => s + r.predictedSeconds, 0), measured = sections.reduce((s, r) => s + r.measuredSeconds, 0);
  return [
    `section times (predicted ${ms(predicted).trim()} on the target, measured ${ms(measured).trim()} on the CPU):`,
    `  ${"section".padEnd(width)}  ${"predicted".padStart(13)}  ${"measured".padStart(13)}`,
    ...rows.map((r) => `  ${r.name.padEnd(width)}  ${ms(r.predictedSeconds)}  ${ms(r.measuredSeconds)}`),
  ].join("\n");
}

export async function runPlanFile(planPath: string, flags: RunFlags, readInputs: InputReader): Promise<{ graph: Graph; outputs: Record<string, Tensor> }> {
  for (const flag of ["passes", "printIrAfterAll", "timePasses", "verifyEach"] as const) {
    if (flags[flag] !== undefined) fail("pass-pipeline options do not apply to a plan: it runs the pipeline it was compiled with");
  }
  const opened = await openPlan(planPath, {
    ...(flags.model !== undefined ? { model: flags.model } : {}), ...(flags.target !== undefined ? { target: flags.target } : {}),
  });
  checkMaxMemory(opened.plan, flags.maxMemory);
  const graph = mainGraph(opened.graph);
  const inputs = readInputs(flags.input, graph);
  const trace = flags.timeline !== undefined ? new TraceRecorder(opened.plan) : undefined;
  const result = executePlan(opened.plan, inputs, {
    graph: opened.graph, target: opened.target, modelDir: opened.modelDir, ...(trace ? { trace } : {}),
  });
  if (trace && flags.timeline !== undefined) {
    const path = resolve(flags.timeline);
    ensureDir(dirname(path));
    writeAtomically(dirname(path), basename(path), `${JSON.stringify(trace.toJson())}\n`);
  }
  if (flags.profile) process.stderr.write(`${formatSectionTimes(result.sections)}\n`);
  return { graph, outputs: result.outputs };
}
