// The corpus at larger sizes, on demand (not part of `npm test`):
//   npx tsx test/corpus/run-long.ts [--sizes 2x64,1x128,4x16] [NAME-PART ...]
// Every corpus file through the interpreter and through plans for sn40l and toy
// at -O0, -O1 and -O2, at each size; prints what was refused at compile time
// (a kernel whose buffers the chip cannot hold) and any plan that fails to run
// or differs from the interpreter by more than 1e-4. Exits 1 on such a plan.

import { join } from "node:path";
import { mainGraph } from "../../ir/graph/graph.js";
import { TierflowError } from "../../ir/diagnostics.js";
import { loadModel } from "../../compiler/load.js";
import { compile } from "../../compiler/compile.js";
import { run } from "../../targets/reference/index.js";
import { executePlan } from "../../targets/runtime/index.js";
import { maxAbsError } from "../runtime/support.js";
import { CORPUS_DIR, corpusEntries, corpusInputs, vocabOf } from "./support.js";

const argv = process.argv.slice(2);
const at = argv.indexOf("--sizes");
const sizes = (at >= 0 ? argv[at + 1]! : "2x64,1x128,4x16").split(",").map((s) => s.split("x").map(Number) as [number, number]);
const only = argv.filter((a, i) => a !== "--sizes" && i !== at + 1);
let plans = 0, refused = 0, failed = 0;
for (const [batch, seq] of sizes) {
  process.stdout.write(`batch ${batch} x ${seq}\n`);
  for (const entry of corpusEntries()) {
    if (only.length > 0 && !only.some((o) => entry.file.includes(o))) continue;
    const path = join(CORPUS_DIR, entry.file);
    const { module } = await loadModel(path);
    const inputs = corpusInputs(mainGraph(module), vocabOf(entry), batch, seq, 7);
    const want = run(module, inputs, { modelDir: CORPUS_DIR }).outputs;
    for (const target of ["sn40l", "toy"]) {
      for (const opt of [0, 1, 2] as const) {
        const where = `  ${entry.file} ${target} -O${opt}`;
        let compiled;
        try {
          compiled = await compile(path, { target, opt, batch, seq });
        } catch (err) {
          if (!(err instanceof TierflowError)) throw err;
          refused++;
          process.stdout.write(`${where}: refused: ${err.message}\n`);
          continue;
        }
        try {
          const { outputs } = executePlan(compiled.plan, inputs, { graph: compiled.graph, target: compiled.target, modelDir: CORPUS_DIR });
          const error = maxAbsError(want, outputs);
          plans++;
          if (!(error <= 1e-4)) {
            failed++;
            process.stdout.write(`${where}: differs from the interpreter by ${error}\n`);
          }
        } catch (err) {
          failed++;
          process.stdout.write(`${where}: FAILED to run: ${(err as Error).message}\n`);
        }
      }
    }
  }
}
process.stdout.write(`${plans} plans ran, ${failed} failed or differed, ${refused} compiles refused\n`);
process.exitCode = failed > 0 ? 1 : 0;
