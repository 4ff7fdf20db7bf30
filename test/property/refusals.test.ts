// Any plan the runtime would refuse, `tierflow verify` refuses first, in the
// same words: good plans (corpus exports at several levels on sn40l and toy)
// are broken one random way at a time — an allocation moved, shrunk, cut short
// or dropped, a transfer dropped or retimed, a stage buffer shrunk, a tiling or
// streaming changed, a kernel moved to another section, renamed or stripped of
// an input — and each goes through verify and through the runtime's own checks
// (mutants.ts). Whenever the runtime refuses, verify has refused with the same
// message; whenever verify accepts, the run succeeds with the interpreter's
// values. The long run is run-long.ts.

import fc from "fast-check";
import { expect, it } from "vitest";
import type { RefusalCounts } from "./mutants.js";
import { MUTATIONS, buildBases, checkMutant, formatCounts } from "./mutants.js";

const MUTANTS = Number(process.env.TIERFLOW_REFUSAL_RUNS ?? 300);

it(`the runtime refuses nothing that verify accepts, and verify refuses in its words (${MUTANTS} broken plans)`, async () => {
  const bases = await buildBases();
  const counts: RefusalCounts = { refusedBoth: 0, ranBoth: 0, verifyOnly: 0 };
  await fc.assert(fc.property(fc.nat(bases.length - 1), fc.constantFrom(...MUTATIONS), fc.nat(1 << 16), (b, kind, pick) => {
    checkMutant(bases[b]!, kind, pick, counts);
  }), { numRuns: MUTANTS, seed: 20261206, endOnFailure: true });
  process.stdout.write(`${formatCounts(counts)}\n`);
  expect(counts.refusedBoth).toBeGreaterThan(MUTANTS / 3);
}, 600_000);
