// `tierflow run` as a user runs it: outputs previewed or written as files into
// --output and nowhere else, a profile on stderr, and one-line diagnostics for
// bad input.

import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { tensorFromValues } from "../../ir/tensor.js";
import { readTensorFile, writeTensorFile } from "../../compiler/tensor-files.js";
import { expectDiagnostic, runCli } from "../support/cli.js";
import { ONNX_FLOAT, ONNX_INT64, floatTensor, model, node, valueInfo, writeModel } from "../support/onnx-builder.js";

let dir: string, modelPath: string, xFile: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "tierflow-run-"));
  modelPath = writeModel(join(dir, "model.onnx"), model({
    inputs: [valueInfo("x", ONNX_FLOAT, ["batch", 3]), valueInfo("i", ONNX_INT64, [1])],
    outputs: ["scores/out", "picked"],
    initializers: [floatTensor("w", [3], [1, 2, 3])],
    nodes: [
      node("Mul", ["x", "w"], ["scores/out"], {}, "scale"),
      node("Gather", ["scores/out", "i"], ["picked"], { axis: 1 }, "pick"),
    ],
  }));
  xFile = join(dir, "x.npy");
  writeTensorFile(xFile, tensorFromValues("f32", [2, 3], [1, 1, 1, 0.5, -1, 2]), "npy");
  writeFileSync(join(dir, "i.json"), "[2]");
  writeFileSync(join(dir, "bad-i.json"), "[7]");
});

describe("tierflow run", () => {
  it("prints each output's name, type and first values", () => {
    const r = runCli(["run", modelPath, "--input", `x=${xFile}`, "--input", `i=${join(dir, "i.json")}`]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^scores\/out\s+f32\[2, 3\]\s+\[1, 2, 3, 0\.5, -2, 6\]$/m);
    expect(r.stdout).toMatch(/^picked\s+f32\[2, 1\]\s+\[3, 6\]$/m);
  });

  it("writes outputs into --output only, in the chosen format, with a profile on stderr", () => {
    const out = join(dir, "out");
    const r = runCli(["run", modelPath, "--input", `x=${xFile}`, "--input", `i=${join(dir, "i.json")}`,
      "--output", out, "--format", "pb", "--profile"]);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(["picked.pb", "scores_out.pb"]);
    expect(Array.from(readTensorFile(join(out, "picked.pb")).data as Float32Array)).toEqual([3, 6]);
    expect(r.stderr).toMatch(/^op time \(.* ms total, 2 nodes\):$/m);
    expect(r.stderr).toMatch(/^ {2}(Mul|Gather)\s+\d+\.\d+ ms\s+\d+\.\d%\s+1 node$/m);
    const npy = runCli(["run", modelPath, "--input", `x=${xFile}`, "--input", `i=${join(dir, "i.json")}`, "--output", out]);
    expect(npy.code, npy.stderr).toBe(0);
    expect(readTensorFile(join(out, "scores_out.npy")).dims).toEqual([2, 3]);
    expect(readdirSync(out).filter((f) => f.includes(".tmp"))).toEqual([]);
  });

  it("a missing input", () => {
    expectDiagnostic(["run", modelPath, "--input", `x=${xFile}`], /missing input 'i' \(expected i64\[1\]\)/);
  });

  it("an input of the wrong shape", () => {
    const wrong = join(dir, "wrong.json");
    writeFileSync(wrong, JSON.stringify({ dtype: "f32", dims: [2, 2], data: [1, 2, 3, 4] }));
    expectDiagnostic(["run", modelPath, "--input", `x=${wrong}`, "--input", `i=${join(dir, "i.json")}`],
      /input 'x': expected f32\[batch, 3\], got f32\[2, 2\]/);
  });

  it("a malformed input file names the file", () => {
    const broken = join(dir, "broken.npy");
    writeFileSync(broken, "NUMPY?");
    expectDiagnostic(["run", modelPath, "--input", `x=${broken}`], /broken\.npy: not a \.npy file/);
  });

  it("an index out of range names the node", () => {
    expectDiagnostic(["run", modelPath, "--input", `x=${xFile}`, "--input", `i=${join(dir, "bad-i.json")}`],
      /node 'pick': Gather index 7 is out of range \[-3, 2\]/);
  });

  it("bad flags", () => {
    expectDiagnostic(["run", modelPath, "--output", join(dir, "o2"), "--format", "csv"], /--format 'csv': the formats are: npy, pb, json/);
    expectDiagnostic(["run", modelPath, "--input", xFile], /--input '.*x\.npy' must look like NAME=FILE \(the model's inputs are: x, i\)/);
  });
});
