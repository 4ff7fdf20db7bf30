// A plan the compiler writes always runs: random graphs of the supported ops at
// random dims (check.ts), compiled for sn40l, toy, h100 and a100 at -O0, -O1 and -O2; every
// written plan passes the legality check, runs, and gives the interpreter's
// outputs. Fixed seed and run count here; the long run is run-long.ts.

import fc from "fast-check";
import { expect, it } from "vitest";
import { checkGraph, formatTally, newTally } from "./check.js";
import { dims, graphSpec } from "./graphs.js";

const RUNS = Number(process.env.TIERFLOW_PROPERTY_RUNS ?? 300);

it(`every plan the compiler writes for ${RUNS} random graphs runs and matches the interpreter`, async () => {
  const tally = newTally();
  await fc.assert(fc.asyncProperty(graphSpec, dims, async (spec, d) => checkGraph(spec, d.batch, d.seq, tally)), { numRuns: RUNS, seed: 20261206, endOnFailure: true });
  process.stdout.write(`${formatTally(tally)}\n`);
  expect(tally.plans).toBeGreaterThan(tally.refused);
  expect(tally.readBack).toBeGreaterThan(0);
  expect(tally.movedToHost).toBeGreaterThan(0);
}, 600_000);
