// `tierflow verify PLAN.json`: schema, version and placement verifier.

import type { Command } from "commander";
import { readPlan } from "../plan-json.js";
import { loadTarget } from "../../targets/target.js";
import { action } from "./run-command.js";

export function registerVerify(program: Command): void {
  program
    .command("verify")
    .description("check a plan.json: schema, version, and that no tier is ever over capacity")
    .argument("<plan>", "a plan.json written by `tierflow compile`")
    .option("-t, --target <target>", "the target file the plan was compiled for, if not a preset")
    .action(action((path: string, flags: { target?: string }) => {
      const { plan } = readPlan(path, flags.target ? loadTarget(flags.target) : undefined);
      process.stdout.write(`${path}: valid plan for ${plan.target} (${plan.sections.length} sections, ${plan.allocations.length} allocations)\n`);
    }));
}
