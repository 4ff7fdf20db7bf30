// Efficiency curves: y is linear in log x between points, held above the last, and below the
// first point of a bytes or FLOPs curve a kernel takes the first point's time.

import { describe, expect, it } from "vitest";
import { curveSeconds, curveValue } from "../../compiler/cost/curves.js";
import type { EfficiencyCurve } from "../../targets/target.js";

const bytes: EfficiencyCurve = { x: "bytes", y: "bandwidth", points: [[1e3, 0.01], [1e5, 0.5], [1e7, 0.9]], source: "test" };
const rows: EfficiencyCurve = { x: "rows", y: "compute", points: [[1, 0.002], [64, 0.1], [4096, 0.7]], source: "test" };

describe("efficiency curves", () => {
  it("hit their points and interpolate in log x between them", () => {
    expect(curveValue(bytes, 1e5)).toBe(0.5);
    expect(curveValue(bytes, 1e4)).toBeCloseTo(0.255, 12); // halfway in log between 1e3 and 1e5
    expect(curveValue(rows, 8)).toBeCloseTo(0.002 + 0.5 * (0.1 - 0.002), 12);
  });

  it("hold the last value above the last point", () => {
    expect(curveValue(bytes, 1e9)).toBe(0.9);
    expect(curveSeconds(bytes, 1e9, 1e9, 1e12)).toBeCloseTo(1e9 / (0.9 * 1e12), 15);
  });

  it("give a kernel below the first point the first point's time: the per-kernel cost", () => {
    const first = 1e3 / (0.01 * 1e12);
    expect(curveSeconds(bytes, 1e3, 1e3, 1e12)).toBeCloseTo(first, 18);
    expect(curveSeconds(bytes, 10, 10, 1e12)).toBeCloseTo(first, 18);
    // Part of a kernel's work at its size: that share of the kernel's time.
    expect(curveSeconds(bytes, 10, 5, 1e12)).toBeCloseTo(first / 2, 18);
    expect(curveSeconds(bytes, 1e3, 0, 1e12)).toBe(0);
  });

  it("price rows curves at the rows given (M below the first row holds the first value)", () => {
    expect(curveSeconds(rows, 64, 1e9, 1e15)).toBeCloseTo(1e9 / (0.1 * 1e15), 18);
  });
});
