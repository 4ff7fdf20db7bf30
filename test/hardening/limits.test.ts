// Resource limits: a small hostile file never makes tierflow allocate
// gigabytes, recurse without bound or spin; each gets a TierflowError. The
// defects the fuzzer found are pinned here too, one test each.

import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MAX_DIM_NESTING, MAX_DIM_TERMS, MAX_DIM_TEXT, mulDims, parseDim } from "../../ir/symbolic.js";
import { decodeTensor } from "../../compiler/tensor-files.js";
import { encodeModel } from "../../compiler/onnx/proto.js";
import { importOnnxFile } from "../../compiler/onnx/import-file.js";
import { expectTierflowError } from "../support/errors.js";
import { checkMaxMemory, residentBytes } from "../../compiler/cli/run-plan.js";
import type { Plan } from "../../ir/placement/plan.js";
import { validateTarget } from "../../targets/target.js";
import { ONNX_FLOAT, model, node, valueInfo } from "../support/onnx-builder.js";

const dir = mkdtempSync(join(tmpdir(), "tierflow-limits-"));
const MiB = 2 ** 20;

/** Run `body`; it must raise a TierflowError matching `pattern` without the process growing by `maxMiB`. */
function expectRefused(body: () => unknown, pattern: RegExp, maxMiB = 64): void {
  const before = process.memoryUsage().rss;
  expectTierflowError(body, pattern);
  expect((process.memoryUsage().rss - before) / MiB).toBeLessThan(maxMiB);
}

const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);

describe("declared sizes are checked before allocation", () => {
  it("an initializer declaring [1e9] floats with no data", () => {
    const f = join(dir, "huge-init.onnx");
    const file = encodeModel(model({
      inputs: [valueInfo("x", ONNX_FLOAT, [2])], outputs: ["y"], nodes: [node("Add", ["x", "w"], ["y"])],
      initializers: [{ name: "w", dims: [1e9], dataType: ONNX_FLOAT }],
    }));
    expect(file.byteLength).toBeLessThan(200);
    writeFileSync(f, file);
    expectRefused(() => importOnnxFile(f), /initializer 'w' has 0 values, f32\[1000000000\] needs 1000000000/);
  });
  it("an initializer whose dims multiply past 2^53", () => {
    const f = join(dir, "overflow-init.onnx");
    writeFileSync(f, encodeModel(model({
      inputs: [valueInfo("x", ONNX_FLOAT, [2])], outputs: ["y"], nodes: [node("Add", ["x", "w"], ["y"])],
      initializers: [{ name: "w", dims: [2 ** 30, 2 ** 30, 2 ** 30], dataType: ONNX_FLOAT }],
    })));
    expectRefused(() => importOnnxFile(f), /is too large/);
  });
  it("a .npy header declaring a huge shape", () => {
    const header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 1000), }";
    const npy = bytes(`\x93NUMPY\x01\x00${String.fromCharCode(header.length + 1, 0)}${header}\n\0\0\0\0`);
    expectRefused(() => decodeTensor(npy, "npy"), /\.npy data is 4 bytes, f32\[1000000000, 1000\] needs 4000000000000/);
  });
  it("a .pb tensor declaring a huge shape", () => {
    // TensorProto: dims (field 1, varint) = 2^40, data_type (field 2) = 1 (float), no data.
    const pb = Uint8Array.from([0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20, 0x10, 0x01]);
    expectRefused(() => decodeTensor(pb, "pb"), /tensor has 0 values, f32\[1099511627776\] needs 1099511627776|too large/);
  });
  it("a JSON tensor declaring a huge shape", () => {
    expectRefused(() => decodeTensor(bytes('{"dtype":"f32","dims":[1000000000],"data":[]}'), "json"), /needs 1000000000/);
  });
});

describe("recursion depth is bounded", () => {
  it("a JSON tensor nested 100000 deep (found by fuzzing: RangeError)", () => {
    const deep = bytes(`${"[".repeat(100_000)}1${"]".repeat(100_000)}`);
    expectRefused(() => decodeTensor(deep, "json", { dtype: "f32" }), /nests deeper than 64/);
  });
  it("dataflow and placement text nested 20000 deep (found by fuzzing: RangeError in the grammar)", async () => {
    const { parseDataflow } = await import("../../ir/dataflow/text.js");
    const { parsePlacement } = await import("../../ir/placement/text.js");
    const deep = `dataflow @m {x = ${"[".repeat(20_000)}1${"]".repeat(20_000)}}`;
    expectRefused(() => parseDataflow(deep, "deep.tfd"), /brackets nest deeper than 256/);
    expectRefused(() => parsePlacement(deep.replace("dataflow", "placement"), "deep.tfp"), /brackets nest deeper than 256/);
  });
  it("a dim expression nested deeper than the limit", () => {
    expectRefused(() => parseDim(`${"(".repeat(MAX_DIM_NESTING + 1)}a${")".repeat(MAX_DIM_NESTING + 1)}`), /nests deeper than/);
    expectRefused(() => parseDim(`${"-".repeat(MAX_DIM_NESTING + 1)}a`), /nests deeper than/);
    expect(parseDim(`${"(".repeat(MAX_DIM_NESTING - 1)}a${")".repeat(MAX_DIM_NESTING - 1)}`)).toBe("a");
    expect(parseDim("- - a + 2*a")).toBe("3*a");
  });
});

describe("dim expressions cannot cost unbounded time (found by fuzzing: a 6 s import)", () => {
  it("a dim_param longer than the limit", () => {
    expectRefused(() => parseDim(`${"a*".repeat(MAX_DIM_TEXT)}b`), /longer than/);
  });
  it("a product with too many terms", () => {
    expectRefused(() => parseDim(Array.from({ length: 8 }, () => "(a+b+c+d+e+f+g+h)").join("*")), new RegExp(`over ${MAX_DIM_TERMS} terms`));
  });
  it("a term of too high a degree", () => {
    expectRefused(() => parseDim(`${"a*".repeat(64)}a`), /degree over 64/);
    expect(() => mulDims("a*b", "c+1")).not.toThrow();
  });
  it("an ONNX input whose dim_param is 'a*a*...*b' imports quickly as a plain symbol", () => {
    const f = join(dir, "long-dim.onnx");
    writeFileSync(f, encodeModel(model({
      inputs: [valueInfo("x", ONNX_FLOAT, [`${"a*".repeat(3000)}b`])], outputs: ["y"], nodes: [node("Relu", ["x"], ["y"])],
    })));
    const t0 = performance.now();
    const m = importOnnxFile(f);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(m.graphs[0]!.types.get("x")!.shape![0]).toMatch(/^a_a_a_/);
  });
});

describe("malformed ONNX structure", () => {
  it("an attribute of type TENSOR holding no tensor (found by fuzzing: TypeError)", () => {
    const f = join(dir, "empty-tensor-attr.onnx");
    writeFileSync(f, encodeModel(model({
      inputs: [], outputs: ["y"], nodes: [{ opType: "Constant", input: [], output: ["y"], name: "c", attribute: [{ name: "value", type: 4 }] }],
    })));
    expectRefused(() => importOnnxFile(f), /attribute 'value' has type TENSOR but holds no tensor/);
  });
});

describe("target files", () => {
  it("unit counts are bounded (found by fuzzing: compute.units 1e23 spun the allocator for 20 s)", () => {
    const toy = JSON.parse(readFileSync(join(import.meta.dirname, "..", "..", "targets", "presets", "toy.json"), "utf8")) as { compute: { units: number }; sram: { units: number } };
    for (const part of ["compute", "sram"] as const) {
      const t = structuredClone(toy);
      t[part].units = 1e23;
      expectRefused(() => validateTarget(t, "big.json"), new RegExp(`\\$\\.${part}\\.units: 1e\\+23 is above the maximum 1048576`));
    }
  });
});

describe("tierflow run PLAN.json --max-memory", () => {
  const plan = { occupancy: { sram: 1 * MiB, hbm: 2 * MiB, ddr: 3 * MiB } } as unknown as Plan;
  it("sums the peak occupancy of every tier", () => {
    expect(residentBytes(plan)).toBe(6 * MiB);
  });
  it("refuses a plan over the limit and accepts one within it", () => {
    expectRefused(() => checkMaxMemory(plan, "5"), /keeps 6\.0 MiB resident .* over --max-memory 5 MiB/);
    expect(() => checkMaxMemory(plan, "6")).not.toThrow();
    expect(() => checkMaxMemory(plan, undefined)).not.toThrow();
  });
  it("refuses a limit that is not a positive whole number", () => {
    for (const bad of ["0", "-1", "1.5", "abc", ""]) expectRefused(() => checkMaxMemory(plan, bad), /must be a positive whole number of MiB/);
  });
});
