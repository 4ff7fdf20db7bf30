// The long fuzz run, on demand (not part of `npm test`):
//   npx tsx test/fuzz/run-long.ts --seconds 600 [--seed N] [--kind onnx-bytes]
//     [--case I | --from I] [--progress FILE]
// Splits the time over the input kinds, prints the figures per kind and every
// defect with the seed and case that replay it; exits 1 when it found any.
// The case about to run is kept in $TMPDIR/tierflow-fuzz-progress.txt (or
// --progress FILE, one for each of runs side by side), so a case that hangs or
// aborts the process can be replayed, and the run resumed after it (--from).

import { tmpdir } from "node:os";
import { join } from "node:path";
import { fuzz, summarise } from "./harness.js";
import { allKinds, buildCorpus } from "./kinds.js";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const seconds = Number(arg("seconds") ?? "600");
const seed = Number(arg("seed") ?? String(Date.now() % 2 ** 31));
const only = arg("kind");
const onlyCase = arg("case");
const from = Number(arg("from") ?? "0");
const progressFile = arg("progress") ?? join(tmpdir(), "tierflow-fuzz-progress.txt");

const corpus = await buildCorpus();
const kinds = (await allKinds(corpus)).filter((k) => only === undefined || k.kind === only);
let tried = 0, defects = 0;
process.stdout.write(`seed ${seed}, ${seconds} s over ${kinds.length} kinds\n`);
for (const k of kinds) {
  const stats = await fuzz({
    ...k, seed, count: onlyCase !== undefined ? Number(onlyCase) + 1 : Number.MAX_SAFE_INTEGER, budgetMs: (seconds * 1000) / kinds.length,
    first: onlyCase !== undefined ? Number(onlyCase) : from, progressFile, heapLimitMiB: 512,
  });
  tried += stats.tried;
  defects += stats.defects.length;
  process.stdout.write(`${summarise(stats)}\n`);
  for (const d of stats.defects.slice(0, 20)) process.stdout.write(`  defect: --kind ${d.kind} --seed ${d.seed} --case ${d.index}: ${d.problem}\n`);
}
process.stdout.write(`total: ${tried} inputs, ${defects} defects\n`);
process.exitCode = defects > 0 ? 1 : 0;
