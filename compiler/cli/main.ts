// The `tierflow` command line.

import { Command } from "commander";
import { registerInspect } from "./inspect.js";
import { registerTargets } from "./targets.js";
import { registerCompile } from "./compile.js";
import { registerVerify } from "./verify.js";
import { registerRun } from "./run.js";
import { registerGenerate } from "./generate.js";
import { registerViz } from "./viz.js";
import { registerSimulateServing } from "./simulate-serving.js";
import { registerCoe } from "./coe.js";
import { allPasses } from "../passes/pass.js";
import { allOps } from "../../ir/graph/ops.js";
import "../passes/all.js";

export function buildProgram(): Command {
  const program = new Command("tierflow")
    .description("compile ONNX expert models into tiered placement plans for dataflow accelerators")
    .version("0.1.0")
    .showHelpAfterError("(run with --help for usage)");
  registerInspect(program);
  registerTargets(program);
  registerCompile(program);
  registerVerify(program);
  registerRun(program);
  registerGenerate(program);
  registerViz(program);
  registerSimulateServing(program);
  registerCoe(program);
  program
    .command("passes")
    .description("list the registered passes")
    .action(() => {
      const passes = allPasses();
      const width = Math.max(...passes.map((p) => p.name.length));
      for (const p of passes) process.stdout.write(`${p.name.padEnd(width)}  ${p.summary}\n`);
    });
  program
    .command("ops")
    .description("list the supported ops of the graph level")
    .action(() => {
      for (const op of allOps()) process.stdout.write(`${op.domain ? `${op.domain}.` : ""}${op.op}  ${op.doc}\n`);
    });
  return program;
}

export async function main(argv: readonly string[]): Promise<void> {
  await buildProgram().parseAsync([...argv], { from: "user" });
}
