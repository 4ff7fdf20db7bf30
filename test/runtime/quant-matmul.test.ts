// Products over quantized weights in plans: MatMulNBits and the QDQ linear
// layer (DequantizeLinear -> MatMul, fused to DequantMatMul) are matmul
// kernels that read their weight at its quantized bytes and stream it in
// blocks of output columns, each block staged at its stored bytes and computed
// with its slice of the scales, zero points and bias. Wide enough for several
// column blocks and tall enough for several row tiles, on the small toy chip
// and on sn40l; the plan's outputs equal the graph interpreter's bit for bit
// (a column of the product depends only on its own weights).

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/compile.js";
import type { DType } from "../../ir/dtype.js";
import { tensorFromValues } from "../../ir/tensor.js";
import { seededRandom } from "../../compiler/seeded-random.js";
import { run } from "../../targets/reference/index.js";
import { executePlan } from "../../targets/runtime/execute.js";
import { ONNX_FLOAT, model, node, typedTensor, valueInfo, writeModel } from "../support/onnx-builder.js";

const dir = mkdtempSync(join(tmpdir(), "tierflow-qmm-"));
const K = 64, N = 300, ROWS = 70;
let seed = 11;
const values = (n: number, lo: number, hi: number) => {
  const random = seededRandom(seed++);
  return Array.from({ length: n }, () => lo + Math.floor(random() * (hi - lo + 1)));
};
const floats = (n: number, scale: number) => {
  const random = seededRandom(seed++);
  return Array.from({ length: n }, () => (random() * 2 - 1) * scale);
};

function nbits(): string {
  const blocks = K / 32, blob = 16;
  const path = join(dir, "nbits.onnx");
  writeModel(path, model({
    nodes: [node("MatMulNBits", ["a", "b", "scales", "zp", "", "bias"], ["y"], { K, N, bits: 4, block_size: 32 }, "mm", "com.microsoft")],
    inputs: [valueInfo("a", ONNX_FLOAT, [ROWS, K])], outputs: ["y"], extraOpsets: [{ domain: "com.microsoft", version: 1 }],
    initializers: [
      typedTensor("b", "u8", [N, blocks, blob], values(N * blocks * blob, 0, 255)), typedTensor("scales", "f32", [N * blocks], floats(N * blocks, 0.05).map((v) => Math.abs(v) + 0.01)),
      typedTensor("zp", "u8", [N, 1], values(N, 0, 255)), typedTensor("bias", "f32", [N], floats(N, 1)),
    ],
  }));
  return path;
}

function dequantized(dtype: DType, blocked: boolean): string {
  const [lo, hi] = dtype === "i4" ? [-8, 7] : dtype === "u8" ? [0, 255] : [-128, 127];
  const params = blocked ? [K / 32, N] : [N];
  const path = join(dir, `dq-${dtype}-${blocked}.onnx`);
  writeModel(path, model({
    nodes: [node("DequantizeLinear", ["w", "s", "z"], ["wf"], blocked ? { axis: 0, block_size: 32 } : { axis: 1 }, "dq"), node("MatMul", ["a", "wf"], ["y"], {}, "mm")],
    inputs: [valueInfo("a", ONNX_FLOAT, [ROWS, K])], outputs: ["y"], opset: blocked ? 21 : 17, irVersion: blocked ? 10 : 8,
    initializers: [
      typedTensor("w", dtype, [K, N], values(K * N, lo, hi)), typedTensor("s", "f32", params, floats(params.reduce((p, d) => p * d, 1), 0.05).map((v) => Math.abs(v) + 0.01)),
      typedTensor("z", dtype, params, values(params.reduce((p, d) => p * d, 1), lo, hi)),
    ],
  }));
  return path;
}

describe("quantized products stream their weights in column blocks and equal the interpreter", () => {
  it.each([
    ["MatMulNBits, 4 bits, packed zero points, bias", nbits, "com.microsoft.MatMulNBits"],
    ["DequantizeLinear -> MatMul, blocked int4", () => dequantized("i4", true), "tierflow.DequantMatMul"],
    ["DequantizeLinear -> MatMul, per-channel int8", () => dequantized("i8", false), "tierflow.DequantMatMul"],
    ["DequantizeLinear -> MatMul, per-channel uint8", () => dequantized("u8", false), "tierflow.DequantMatMul"],
  ] as const)("%s", async (_, make, op) => {
    const path = make();
    const a = tensorFromValues("f32", [ROWS, K], floats(ROWS * K, 1));
    const { module } = await (await import("../../compiler/load.js")).loadModel(path);
    const want = run(module, { a }, { modelDir: dir }).outputs.y!.data as Float32Array;
    for (const target of ["toy", "sn40l"]) {
      const r = await compile(path, { target, opt: 2 });
      const k = r.plan.dataflow.kernels.find((x) => x.ops.includes(op))!;
      expect(k).toMatchObject({ kind: "matmul", streaming: "matmul" });
      expect(k.tiling.tiles).toBeGreaterThan(1);
      expect(k.tiling.blocks).toBeGreaterThan(1);
      // The weight is read at its quantized bytes.
      const weight = r.plan.dataflow.tensors.find((t) => t.name === k.inputs[1])!;
      expect(k.reads[weight.name]).toBe(weight.bytes);
      const got = executePlan(r.plan, { a }, { graph: r.graph, target: r.target, modelDir: dir }).outputs.y!.data as Float32Array;
      expect(Array.from(got)).toEqual(Array.from(want));
    }
  });
});

describe("other kernels over int4 data run whole", () => {
  it("a Transpose of an int4 weight too large to fold, then DequantizeLinear: the plan runs and equals the interpreter", async () => {
    const [rows, cols] = [512, 256]; // 128 Ki elements: above what constant folding evaluates
    const path = join(dir, "int4-transpose.onnx");
    writeModel(path, model({
      nodes: [node("Transpose", ["w"], ["wt"], { perm: [1, 0] }, "t"), node("DequantizeLinear", ["wt", "s", "z"], ["wf"], {}, "dq"), node("Add", ["wf", "a"], ["y"], {}, "add")],
      inputs: [valueInfo("a", ONNX_FLOAT, [cols, rows])], outputs: ["y"], opset: 21, irVersion: 10,
      initializers: [typedTensor("w", "i4", [rows, cols], values(rows * cols, -8, 7)), typedTensor("s", "f32", [], [0.25]), typedTensor("z", "i4", [], [1])],
    }));
    const a = tensorFromValues("f32", [cols, rows], floats(rows * cols, 1));
    const { module } = await (await import("../../compiler/load.js")).loadModel(path);
    const want = run(module, { a }, { modelDir: dir }).outputs.y!.data as Float32Array;
    const r = await compile(path, { target: "sn40l", opt: 2 });
    expect(r.plan.dataflow.kernels.find((k) => k.ops.includes("Transpose"))).toMatchObject({ streaming: "whole" });
    const got = executePlan(r.plan, { a }, { graph: r.graph, target: r.target, modelDir: dir }).outputs.y!.data as Float32Array;
    expect(Array.from(got)).toEqual(Array.from(want));
  });
});
