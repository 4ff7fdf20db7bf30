// `tierflow generate PLAN.json --prompt-ids 1,2,3 --tokens N`: greedy text
// generation through plans on the CPU reference backend (see
// targets/runtime/generate.ts for how each step's plan is chosen). Prints the
// prompt followed by the generated ids, comma-separated, on one line.

import type { Command } from "commander";
import { fail } from "../../ir/diagnostics.js";
import { generateGreedy } from "../generate.js";
import { openPlan } from "../open-plan.js";
import { action } from "./run-command.js";
import { withProgress } from "./progress.js";

interface GenerateFlags {
  promptIds: string;
  tokens: string;
  model?: string;
  target?: string;
}

function parseIds(text: string): number[] {
  const parts = text.split(",").map((p) => p.trim());
  if (parts.some((p) => !/^\d+$/.test(p) || !Number.isSafeInteger(Number(p)))) {
    fail(`--prompt-ids '${text}' must be non-negative integers separated by commas`);
  }
  return parts.map(Number);
}

export function registerGenerate(program: Command): void {
  program
    .command("generate")
    .description("generate token ids greedily with a decoder's plan on the reference backend")
    .argument("<plan>", "a plan.json of a decoder model (compiled with --batch 1)")
    .requiredOption("--prompt-ids <ids>", "the prompt's token ids, e.g. 1,2,3")
    .option("--tokens <n>", "how many tokens to generate", "8")
    .option("--model <file>", "the model file the plan was compiled from (default: beside the plan)")
    .option("--target <file>", "the target file of a plan compiled for a custom target")
    .action(action(async (planPath: string, flags: GenerateFlags) => {
      const prompt = parseIds(flags.promptIds);
      if (!/^\d+$/.test(flags.tokens) || !Number.isSafeInteger(Number(flags.tokens))) fail(`--tokens '${flags.tokens}' must be a non-negative integer`);
      // A bar on a terminal only: a script reading stderr gets the one summary line.
      const { ids, how } = await withProgress("generate", {}, async (progress) => {
        progress.stage("open the plan");
        const opened = await openPlan(planPath, {
          ...(flags.model !== undefined ? { model: flags.model } : {}), ...(flags.target !== undefined ? { target: flags.target } : {}),
        });
        const step = (done: number, total: number) => progress.stage("", { done, total, unit: "tokens" });
        step(0, Number(flags.tokens));
        return generateGreedy(opened, prompt, Number(flags.tokens), step);
      });
      process.stdout.write(`${ids.join(",")}\n`);
      process.stderr.write(`generate: ${how}\n`);
    }));
}
