// Calibrated targets: targets/calibrated/h100.json, written by bench/device/measure_h100.py from
// microbenchmarks on an H100, loads like any target file and its efficiency curves are sane; the
// optional `efficiency` section is validated, and a target without it loads as before.

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadTarget } from "../../targets/target.js";
import { ROOT } from "../support/cli.js";

const FILE = join(ROOT, "targets", "calibrated", "h100.json");
// Device-to-device copy on one H100 80GB HBM3, bytes read plus written (shared brief, docs/measurements.md).
const MEASURED_COPY_BANDWIDTH = 3.0e12;
const dir = mkdtempSync(join(tmpdir(), "tierflow-calibrated-"));

function numericPaths(v: unknown, prefix = ""): string[] {
  if (typeof v === "number") return [prefix];
  if (v && typeof v === "object") {
    return Object.entries(v).flatMap(([k, x]) => (k === "sources" || k === "efficiency" ? [] : numericPaths(x, prefix ? `${prefix}.${k}` : k)));
  }
  return [];
}

describe("the calibrated H100 target", () => {
  const t = loadTarget(FILE);
  const curves = t.efficiency!.curves!;

  it("loads through --target FILE's path, with every figure outside the curves sourced", () => {
    expect(t.name).toBe("h100-measured");
    expect(t.execution).toBe("kernel-by-kernel");
    expect(t.efficiency?.source).toMatch(/measure_h100\.py.*H100/);
    for (const path of numericPaths(t)) expect(t.sources[path], path).toBeTruthy();
    expect(t.sources["hbm.bandwidth"]).toMatch(/measured/);
  });

  it("has a curve for each kernel class a decoder runs, each with its source", () => {
    for (const name of ["elementwise", "copy", "reduction", "gemv", "gemm", "attention-decode-mha", "attention-decode-gqa", "attention-prefill"]) {
      expect(curves[name], name).toBeDefined();
      expect(curves[name]!.source.length, name).toBeGreaterThan(10);
    }
  });

  it("every curve has a strictly increasing x axis and efficiencies in (0, 1.1]", () => {
    for (const [name, c] of Object.entries(curves)) {
      expect(c.points.length, name).toBeGreaterThanOrEqual(5);
      c.points.forEach(([x, y], i) => {
        if (i > 0) expect(x, `${name}[${i}]`).toBeGreaterThan(c.points[i - 1]![0]);
        expect(y, `${name}[${i}]`).toBeGreaterThan(0);
        expect(y, `${name}[${i}]`).toBeLessThanOrEqual(1.1);
      });
    }
  });

  it("bandwidth curves rise with size and plateau near the measured copy bandwidth", () => {
    expect(t.hbm.bandwidth / MEASURED_COPY_BANDWIDTH).toBeCloseTo(1, 1);
    for (const name of ["elementwise", "copy", "reduction"]) {
      const c = curves[name]!;
      expect(c.x).toBe("bytes");
      expect(c.y).toBe("bandwidth");
      const large = c.points.filter(([x]) => x >= 64e6).map(([, y]) => y);
      const plateau = Math.max(...large) * t.hbm.bandwidth;
      expect(Math.abs(plateau / MEASURED_COPY_BANDWIDTH - 1), name).toBeLessThan(0.1);
      // Small kernels are dominated by the per-kernel cost: far below the plateau.
      expect(c.points[0]![1], name).toBeLessThan(0.05);
    }
    // Decode attention over a long KV cache streams it near the copy bandwidth.
    expect(Math.max(...curves["attention-decode-mha"]!.points.map(([, y]) => y))).toBeGreaterThan(0.9);
  });

  it("the GEMM curve shows memory-bound small M and a compute plateau under the datasheet peak", () => {
    const g = curves.gemm!;
    expect(g.x).toBe("rows");
    expect(g.y).toBe("compute");
    const at = (m: number) => g.points.find(([x]) => x === m)![1];
    expect(at(1)).toBeLessThan(0.01);
    expect(at(4096)).toBeGreaterThan(0.5);
    expect(at(4096)).toBeLessThan(1);
    expect(at(64) / at(1)).toBeGreaterThan(30); // the same weight bytes serve 64 rows
  });

  it("launch costs: a graph-replayed kernel costs about a microsecond, an eager launch several", () => {
    const l = t.efficiency!.launch!;
    expect(l.graphKernelSeconds).toBeGreaterThan(0.5e-6);
    expect(l.graphKernelSeconds).toBeLessThan(2e-6);
    expect(l.eagerKernelSeconds).toBeGreaterThan(3 * l.graphKernelSeconds);
    expect(t.overheads.launchSeconds).toBe(l.graphKernelSeconds);
  });
});

describe("the efficiency section of a target file", () => {
  const calibrated = loadTarget(FILE);
  const write = (name: string, value: unknown) => {
    const file = join(dir, name);
    writeFileSync(file, JSON.stringify(value));
    return file;
  };

  it("is optional: a target without it loads as before", () => {
    expect(loadTarget("h100").efficiency).toBeUndefined();
    const { efficiency: _, ...plain } = calibrated;
    expect(loadTarget(write("plain.json", plain)).efficiency).toBeUndefined();
  });

  it("refuses curves that are not [x, y] points on an increasing axis, naming the field", () => {
    const curve = calibrated.efficiency!.curves!.copy!;
    const withCurve = (c: unknown) => ({ ...calibrated, efficiency: { ...calibrated.efficiency, curves: { copy: c } } });
    expect(() => loadTarget(write("descending.json", withCurve({ ...curve, points: [[2, 0.5], [1, 0.6]] }))))
      .toThrow(/\$\.efficiency\.curves\.copy\.points\[1\]: x 1 does not increase on 2/);
    expect(() => loadTarget(write("triple.json", withCurve({ ...curve, points: [[1, 0.5, 3]] }))))
      .toThrow(/\$\.efficiency\.curves\.copy\.points\[0\]/);
    expect(() => loadTarget(write("zero.json", withCurve({ ...curve, points: [[1, 0]] }))))
      .toThrow(/\$\.efficiency\.curves\.copy\.points\[0\]\[1\]: 0 must be greater than 0/);
    expect(() => loadTarget(write("negative.json", withCurve({ ...curve, points: [[-1, 0.5]] }))))
      .toThrow(/\$\.efficiency\.curves\.copy\.points\[0\]\[0\]: -1 is below the minimum 0/);
    expect(() => loadTarget(write("axis.json", withCurve({ ...curve, x: "tiles" }))))
      .toThrow(/\$\.efficiency\.curves\.copy\.x: "tiles" is not one of/);
    expect(() => loadTarget(write("nosource.json", { ...calibrated, efficiency: { curves: calibrated.efficiency!.curves } })))
      .toThrow(/\$\.efficiency: missing required field 'source'/);
    expect(() => loadTarget(write("name.json", { ...calibrated, efficiency: { ...calibrated.efficiency, curves: { "Bad Name": curve } } })))
      .toThrow(/\$\.efficiency\.curves/);
  });
});
