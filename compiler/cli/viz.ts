// `tierflow viz OUT/plan.json -o plan.html [--timeline run.json]`: the plan
// visualiser as one self-contained HTML file.

import { basename, dirname } from "node:path";
import type { Command } from "commander";
import { fail } from "../../ir/diagnostics.js";
import { readJsonFile } from "../../ir/json-file.js";
import { loadTarget } from "../../targets/target.js";
import { ensureDir, writeAtomically } from "../emit.js";
import { readPlan } from "../plan-json.js";
import { isTrace, traceMismatch } from "../viz/trace.js";
import { renderPlanHtml } from "../viz/render.js";
import { action } from "./run-command.js";

interface VizFlags {
  output: string;
  timeline?: string;
  target?: string;
}

function readTrace(path: string): unknown {
  const json = readJsonFile(path, "trace");
  if (!isTrace(json)) fail("not a Chrome trace: expected an array of events or an object with traceEvents", { file: path });
  return json;
}

export function registerViz(program: Command): void {
  program
    .command("viz")
    .description("draw a plan as one self-contained HTML page: summary, chip floorplan, memory tiers, timeline, graph")
    .argument("<plan>", "a plan.json written by `tierflow compile`")
    .requiredOption("-o, --output <file>", "the HTML file to write")
    .option("--timeline <file>", "a run's timeline (Chrome trace-event JSON, as `tierflow run PLAN --timeline` writes) to show measured times beside predicted ones")
    .option("-t, --target <target>", "the target file the plan was compiled for, if not a preset")
    .action(action((path: string, flags: VizFlags) => {
      const { plan, target } = readPlan(path, flags.target ? loadTarget(flags.target) : undefined);
      const trace = flags.timeline !== undefined ? readTrace(flags.timeline) : undefined;
      const mismatch = trace !== undefined ? traceMismatch(trace, plan) : undefined;
      if (mismatch) fail(`${mismatch}: give the timeline \`tierflow run ${path} --timeline FILE\` writes`, { file: flags.timeline! });
      const html = renderPlanHtml(plan, target, trace !== undefined ? { trace } : {});
      ensureDir(dirname(flags.output));
      writeAtomically(dirname(flags.output), basename(flags.output), html);
    }));
}
