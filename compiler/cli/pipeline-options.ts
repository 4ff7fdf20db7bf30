// Pass-pipeline flags shared by every command that compiles.

import type { Command } from "commander";
import type { LoadOptions } from "../load.js";

export interface PipelineFlags {
  passes?: string;
  printIrAfterAll?: boolean;
  timePasses?: boolean;
  verifyEach?: boolean;
}

export function addPipelineOptions(cmd: Command): Command {
  return cmd
    .option("--passes <list>", "comma-separated pass pipeline (see `tierflow passes`)")
    .option("--print-ir-after-all", "print the IR after every pass (to stderr)")
    .option("--time-passes", "print the time each pass took (to stderr)")
    .option("--verify-each", "run the verifier after every pass");
}

export function pipelineOptions(flags: PipelineFlags): LoadOptions {
  return {
    ...(flags.passes !== undefined ? { passes: flags.passes } : {}),
    verifyEach: flags.verifyEach ?? false,
    recordIR: flags.printIrAfterAll ?? false,
    ...(flags.printIrAfterAll
      ? { onPass: (r) => process.stderr.write(`// ----- IR after ${r.pass} -----\n${r.after ?? ""}\n`) }
      : {}),
  };
}
