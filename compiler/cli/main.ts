// The `tierflow` command line. Each command's module is loaded only when that
// command runs (or for --help, which lists them all): some pull in large
// libraries, and `tierflow inspect` on a 7B graph should not pay for them.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Command } from "commander";
import { boundHeapGrowth } from "./heap.js";

/** The package's version, from its package.json (built code runs from dist/compiler/cli, sources from compiler/cli). */
function packageVersion(): string {
  const here = import.meta.dirname;
  const file = [join(here, "..", "..", "package.json"), join(here, "..", "..", "..", "package.json")].find(existsSync)!;
  return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
}

type Register = (program: Command) => void;

/** Command name -> the module that registers it (one module may register several). */
const COMMANDS: Readonly<Record<string, () => Promise<Register>>> = {
  inspect: async () => (await import("./inspect.js")).registerInspect,
  targets: async () => (await import("./targets.js")).registerTargets,
  compile: async () => (await import("./compile.js")).registerCompile,
  verify: async () => (await import("./verify.js")).registerVerify,
  run: async () => (await import("./run.js")).registerRun,
  generate: async () => (await import("./generate.js")).registerGenerate,
  viz: async () => (await import("./viz.js")).registerViz,
  "simulate-serving": async () => (await import("./simulate-serving.js")).registerSimulateServing,
  simulate: async () => (await import("./coe.js")).registerCoe,
  trace: async () => (await import("./coe.js")).registerCoe,
  passes: async () => registerPasses,
  ops: async () => registerOps,
};

const registerPasses: Register = (program) => {
  program
    .command("passes")
    .description("list the registered passes: the graph passes, then the compile stages in the order compile runs them")
    .option("-v, --verbose", "also each stage's description, with a sample of the IR it produces")
    .action(async (flags: { verbose?: boolean }) => {
      await import("../passes/all.js");
      await import("../compile.js"); // registers the compile stages
      const { allPasses } = await import("../passes/pass.js");
      const { allStages } = await import("../passes/stage.js");
      const passes = allPasses(), stages = allStages();
      const width = Math.max(...passes.map((p) => p.name.length), ...stages.map((s) => s.name.length));
      process.stdout.write("graph passes (--passes runs them after import; graph -> graph):\n");
      for (const p of passes) process.stdout.write(`  ${p.name.padEnd(width)}  ${p.summary}\n`);
      process.stdout.write("compile stages (after the graph passes and fusion, in this order):\n");
      for (const s of stages) {
        process.stdout.write(`  ${s.name.padEnd(width)}  ${s.from} -> ${s.to}: ${s.summary}\n`);
        if (flags.verbose) process.stdout.write(`${s.description.split("\n").map((l) => `  ${" ".repeat(width)}    ${l}`).join("\n")}\n`);
      }
    });
};

const registerOps: Register = (program) => {
  program
    .command("ops")
    .description("list the supported ops of the graph level")
    .action(async () => {
      const { allOps } = await import("../../ir/graph/ops.js");
      for (const op of allOps()) process.stdout.write(`${op.domain ? `${op.domain}.` : ""}${op.op}  ${op.doc}\n`);
    });
};

/** The program with the named command registered, or every command when none (or an unknown one) is named. */
export async function buildProgram(command?: string): Promise<Command> {
  const program = new Command("tierflow")
    .description("compile ONNX expert models into tiered placement plans for dataflow accelerators")
    .version(packageVersion())
    .showHelpAfterError("(run with --help for usage)");
  const loaders = command !== undefined && Object.hasOwn(COMMANDS, command) ? [COMMANDS[command]!] : Object.values(COMMANDS);
  const registered = new Set<Register>();
  for (const load of loaders) {
    const register = await load();
    if (registered.has(register)) continue;
    registered.add(register);
    register(program);
  }
  return program;
}

export async function main(argv: readonly string[]): Promise<void> {
  boundHeapGrowth();
  // `tierflow ... | head` closes the pipe early: stop quietly, as Unix tools do.
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(0);
    throw err;
  });
  const program = await buildProgram(argv[0]);
  await program.parseAsync([...argv], { from: "user" });
}
