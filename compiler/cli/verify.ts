// `tierflow verify PLAN.json`: schema, version and placement verifier, then
// the plan's legality against the graph its model file compiles to: whatever
// `tierflow run` would refuse, refused here first, in the same words.

import type { Command } from "commander";
import { checkPlanLegality, runsPlan } from "../../ir/placement/legality.js";
import { mainGraph } from "../../ir/graph/graph.js";
import { openPlan } from "../open-plan.js";
import { action } from "./run-command.js";

export function registerVerify(program: Command): void {
  program
    .command("verify")
    .description("check a plan.json: schema, version, no tier ever over capacity, and that it runs as placed (what `tierflow run` would refuse)")
    .argument("<plan>", "a plan.json written by `tierflow compile`")
    .option("-t, --target <target>", "the target file the plan was compiled for, if not a preset")
    .option("--model <model>", "the model file the plan was compiled from (by default the one the plan records)")
    .option("--json", "print the result as JSON (compiler/cli/schemas/verify.schema.json)")
    .action(action(async (path: string, flags: { target?: string; model?: string; json?: boolean }) => {
      const opened = await openPlan(path, { ...(flags.target !== undefined ? { target: flags.target } : {}), ...(flags.model !== undefined ? { model: flags.model } : {}) });
      const { plan } = opened;
      const valid = `${path}: valid plan for ${plan.target} (${plan.sections.length} sections, ${plan.allocations.length} allocations)`;
      // Decode plans the runtime does not run (no KV cache inputs, or node-level) are for the cost model: there is no run to check them against.
      const runs = runsPlan(plan, new Map(mainGraph(opened.graph).nodes.map((n) => [n.name, n])));
      if (runs) checkPlanLegality(plan, opened.target, opened.graph);
      if (flags.json) {
        const result = { plan: path, valid: true, target: plan.target, sections: plan.sections.length, allocations: plan.allocations.length, runs, model: opened.modelPath };
        process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      } else if (!runs) {
        process.stdout.write(`${valid}; a decode plan for the cost model, checked for capacity (the runtime runs decode steps of single-socket plans of with-past models)\n`);
      } else {
        process.stdout.write(`${valid}; it runs as placed with ${opened.modelPath}\n`);
      }
    }));
}
