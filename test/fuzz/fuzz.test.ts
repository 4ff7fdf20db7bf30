// The fuzzer at a fixed seed, short enough for CI: every input kind, a bounded
// number of cases and seconds each. Every mutated input must work or raise a
// TierflowError, within its time limit, without the heap growing past the limit.
// The long run is test/fuzz/run-long.ts.

import { beforeAll, describe, expect, it } from "vitest";
import { fuzz, summarise } from "./harness.js";
import type { Defect } from "./harness.js";
import type { Corpus } from "./kinds.js";
import * as kinds from "./kinds.js";

const SEED = 20261122;
/** Per kind: at most this many cases, and at most this many seconds. */
const PLAN: readonly [keyof typeof kinds, number, number][] = [
  ["onnxBytesKind", 120, 5], ["onnxStructureKind", 40, 5], ["graphTextKind", 100, 4], ["dataflowTextKind", 25, 4],
  ["placementTextKind", 20, 4], ["planJsonKind", 200, 4], ["targetKind", 80, 4], ["tensorFileKind", 1000, 3],
  ["manifestKind", 300, 3], ["nonRegularFilesKind", 150, 2],
];

let corpus: Corpus;
beforeAll(async () => {
  corpus = await kinds.buildCorpus();
}, 60_000);

const format = (ds: readonly Defect[]) => ds.map((d) => `case ${d.index}: ${d.problem}`).join("\n");

describe(`fuzzing every parser (seed ${SEED})`, () => {
  for (const [make, count, seconds] of PLAN) {
    it(make.replace(/Kind$/, ""), async () => {
      const kind = (kinds[make] as (c: Corpus) => Parameters<typeof fuzz>[0])(corpus);
      const stats = await fuzz({ ...kind, seed: SEED, count, budgetMs: seconds * 1000, heapLimitMiB: 256 });
      process.stdout.write(`${summarise(stats)}\n`);
      expect(stats.tried).toBeGreaterThan(0);
      expect(format(stats.defects)).toBe("");
    }, 60_000);
  }
});
