// ONNX's single-op backend tests through the reference backend. A case of a
// supported op (in the op table, with a kernel, at opset >= 13) must pass
// unless expected-failures.json lists it with a reason, and a listed case that
// now passes must leave the list, so the list stays true.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { ConformanceReport } from "./run-conformance.js";
import { NODE_TEST_DIR, formatReport, runConformance } from "./run-conformance.js";

interface ExpectedFailure {
  readonly case: string;
  readonly reason: string;
}

const expected: ExpectedFailure[] = JSON.parse(readFileSync(join(import.meta.dirname, "expected-failures.json"), "utf8"));
const haveData = existsSync(NODE_TEST_DIR);
if (!haveData) {
  console.warn(`conformance: skipped, no ONNX test data at ${NODE_TEST_DIR} (apt-get install libonnx-testdata)`);
}

describe.skipIf(!haveData)("ONNX node conformance", () => {
  let report: ConformanceReport;
  beforeAll(async () => {
    report = await runConformance(NODE_TEST_DIR);
    console.log(formatReport(report, false));
  }, 120_000);

  it("every expected failure has a reason and is listed once", () => {
    const names = expected.map((e) => e.case);
    expect(new Set(names).size).toBe(names.length);
    for (const e of expected) expect(e.reason.trim(), e.case).not.toBe("");
  });

  it("no case of a supported op fails unless listed", () => {
    const listed = new Set(expected.map((e) => e.case));
    const unexpected = report.cases.filter((c) => c.status === "failed" && !listed.has(c.case))
      .map((c) => `${c.case} (${c.op}): ${c.reason}`);
    expect(unexpected).toEqual([]);
  });

  it("every listed case still fails (remove it from expected-failures.json once it passes)", () => {
    const status = new Map(report.cases.map((c) => [c.case, c.status]));
    const stale = expected.filter((e) => status.get(e.case) !== "failed").map((e) => `${e.case}: ${status.get(e.case) ?? "no such case"}`);
    expect(stale).toEqual([]);
  });

  it("runs a real share of the suite", () => {
    expect(report.totals.passed).toBeGreaterThan(200);
  });
});
