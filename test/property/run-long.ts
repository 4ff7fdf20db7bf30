// The long property runs, on demand (not part of `npm test`):
//   npx tsx test/property/run-long.ts [--graphs 3000] [--mutants 20000] [--seed N]
// Random graphs at random dims through every target and level (check.ts), and
// broken plans through verify and the runtime (mutants.ts); prints the figures
// and the first counterexample, with the seed that replays it. Exits 1 on a failure.

import fc from "fast-check";
import { checkGraph, formatTally, newTally } from "./check.js";
import { dims, graphSpec } from "./graphs.js";
import type { RefusalCounts } from "./mutants.js";
import { MUTATIONS, buildBases, checkMutant, formatCounts } from "./mutants.js";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] ?? fallback : fallback;
}

const graphs = Number(arg("graphs", "3000")), mutants = Number(arg("mutants", "20000"));
const seed = Number(arg("seed", String(Date.now() % 2 ** 31)));
let failed = false;
const report = <T>(what: string, result: fc.RunDetails<T>) => {
  if (!result.failed) return;
  failed = true;
  process.stdout.write(`${what}: FAILED (seed ${seed}): ${fc.defaultReportMessage(result) ?? ""}\n`);
};

process.stdout.write(`seed ${seed}\n`);
let start = performance.now();
const tally = newTally();
report("plans", await fc.check(fc.asyncProperty(graphSpec, dims, async (spec, d) => checkGraph(spec, d.batch, d.seq, tally)), { numRuns: graphs, seed, endOnFailure: true }));
process.stdout.write(`${formatTally(tally)}\n  ${((performance.now() - start) / 1000).toFixed(0)} s\n`);

start = performance.now();
const bases = await buildBases();
const counts: RefusalCounts = { refusedBoth: 0, ranBoth: 0, verifyOnly: 0 };
report("refusals", fc.check(fc.property(fc.nat(bases.length - 1), fc.constantFrom(...MUTATIONS), fc.nat(1 << 16), (b, kind, pick) => {
  checkMutant(bases[b]!, kind, pick, counts);
}), { numRuns: mutants, seed, endOnFailure: true }));
process.stdout.write(`${formatCounts(counts)}\n  ${((performance.now() - start) / 1000).toFixed(0)} s\n`);
process.exitCode = failed ? 1 : 0;
