// Values computed only from the inputs' dims are reused by later runs with the
// same dims (RunOptions.reuseShapeValues): a causal mask and position ids built
// from Shape, as decoder exports build them. Every run must equal a run that
// computes everything, whatever the order of dims and values; nothing that
// depends on an input's values, and no graph output, is ever reused; values
// past the memo's size are not kept.

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { Module } from "../../ir/graph/graph.js";
import type { Tensor } from "../../ir/tensor.js";
import { makeTensor } from "../../ir/tensor.js";
import { loadModel } from "../../compiler/load.js";
import { BufferPool } from "../../targets/reference/kernels/buffers.js";
import { run } from "../../targets/reference/index.js";
import { ONNX_FLOAT, floatTensor, int64Tensor, model, node, valueInfo, writeModel } from "../support/onnx-builder.js";

let module: Module;
beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), "tierflow-shape-values-"));
  // x [batch, seq, 4]: positions = Range(0, seq); mask[i, j] = j <= i ? 0 : -1e9 (from Shape only);
  // y = x * seq + (positions + mask row sums) as a column; also returned: the mask and seq * max(x).
  const nodes = [
    node("Shape", ["x"], ["shape"], {}, "shape"),
    node("Gather", ["shape", "one"], ["seq"], { axis: 0 }, "seq"),
    node("Range", ["zero", "seq", "one"], ["positions"], {}, "range"),
    node("Cast", ["positions"], ["positionsF"], { to: ONNX_FLOAT }, "cast"),
    node("Unsqueeze", ["positions", "zeroAxis"], ["rows"], {}, "rows"),
    node("Unsqueeze", ["positions", "oneAxis"], ["cols"], {}, "cols"),
    node("LessOrEqual", ["rows", "cols"], ["allowed"], {}, "le"),
    node("Where", ["allowed", "zeroF", "minus"], ["mask"], {}, "where"),
    node("ReduceSum", ["mask", "oneAxis"], ["maskSums"], { keepdims: 0 }, "sum"),
    node("Add", ["positionsF", "maskSums"], ["perPosition"], {}, "perPosition"),
    node("Unsqueeze", ["perPosition", "oneAxis"], ["column"], {}, "column"),
    node("Cast", ["seq"], ["seqF"], { to: ONNX_FLOAT }, "seqF"),
    node("Mul", ["x", "seqF"], ["scaled"], {}, "scale"), // an intermediate from x's values and a shape-derived one
    node("Add", ["scaled", "column"], ["y"], {}, "y"),
    node("ReduceMax", ["x"], ["xMax"], { keepdims: 0 }, "max"),
    node("Mul", ["seqF", "xMax"], ["seqTimesMax"], {}, "valueDependent"),
  ];
  const path = writeModel(join(dir, "shape-values.onnx"), model({
    inputs: [valueInfo("x", ONNX_FLOAT, ["batch", "seq", 4])], outputs: ["y", "mask", "seqTimesMax"], nodes,
    initializers: [
      int64Tensor("one", [], [1]), int64Tensor("zero", [], [0]), int64Tensor("zeroAxis", [1], [0]), int64Tensor("oneAxis", [1], [1]),
      floatTensor("zeroF", [], [0]), floatTensor("minus", [], [-1e9]),
    ],
  }));
  module = (await loadModel(path, { passes: "" })).module;
});

let seed = 11;
const xOf = (batch: number, seq: number) => makeTensor("f32", [batch, seq, 4], Float32Array.from({ length: batch * seq * 4 }, () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) - 0.5));
const bits = (t: Tensor) => [...new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)];

describe("values from the inputs' dims", () => {
  it("are reused for the same dims and recomputed for others, every run equal to a full one", () => {
    const buffers = new BufferPool();
    const ran: number[] = [];
    for (const [batch, seq] of [[2, 5], [2, 5], [3, 5], [2, 7], [2, 5], [3, 5], [2, 7], [2, 7]] as const) {
      const x = xOf(batch, seq);
      const reused = run(module, { x }, { buffers, profile: true });
      const full = run(module, { x }, { reuseShapeValues: false, buffers: false });
      for (const name of ["y", "mask", "seqTimesMax"]) expect(bits(reused.outputs[name]!), `${name} at [${batch}, ${seq}]`).toEqual(bits(full.outputs[name]!));
      ran.push(reused.profile!.length);
    }
    // The first run of each dims computes all 16 nodes; later ones run only the five that read x's
    // values or write an output (Where writes the returned mask; what it reads comes from the memo).
    expect(ran).toEqual([16, 5, 16, 16, 5, 5, 5, 5]);
  });

  it("never hands reused storage to a later node, and a caller changing an output changes no later run", () => {
    const buffers = new BufferPool();
    const x = xOf(2, 6);
    const first = run(module, { x }, { buffers });
    const expected = bits(first.outputs["y"]!);
    (first.outputs["mask"]!.data as Float32Array).fill(123);
    for (let i = 0; i < 4; i++) {
      const again = run(module, { x }, { buffers });
      expect(bits(again.outputs["y"]!)).toEqual(expected);
      expect((again.outputs["mask"]!.data as Float32Array)[1]).toBe(-1e9);
    }
  });

  it("are not kept past 32 MiB for one set of dims, and runs stay right", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tierflow-shape-values-large-"));
    // y = x + rowsum(ones [seq, seq]) as a column: the ones are shape-derived and, at seq 3000, 36 MB.
    const nodes = [
      node("Shape", ["x"], ["shape"], {}, "shape"),
      node("Gather", ["shape", "one"], ["seq"], { axis: 0 }, "seq"),
      node("Unsqueeze", ["seq", "zeroAxis"], ["seq1"], {}, "seq1"),
      node("Concat", ["seq1", "seq1"], ["square"], { axis: 0 }, "square"),
      node("ConstantOfShape", ["square"], ["ones"], { value: floatTensor("v", [1], [1]) }, "ones"),
      node("ReduceSum", ["ones", "oneAxis"], ["sums"], { keepdims: 0 }, "sums"),
      node("Unsqueeze", ["sums", "oneAxis"], ["column"], {}, "column"),
      node("Add", ["x", "column"], ["y"], {}, "y"),
    ];
    const path = writeModel(join(dir, "large.onnx"), model({
      inputs: [valueInfo("x", ONNX_FLOAT, ["batch", "seq", 4])], outputs: ["y"], nodes,
      initializers: [int64Tensor("one", [], [1]), int64Tensor("zeroAxis", [1], [0]), int64Tensor("oneAxis", [1], [1])],
    }));
    const large = (await loadModel(path, { passes: "" })).module;
    const buffers = new BufferPool(), ran: number[] = [], allocated: number[] = [];
    for (const seq of [3000, 3000, 3000, 20, 20]) {
      const x = xOf(1, seq);
      const reused = run(large, { x }, { buffers, profile: true });
      expect(bits(reused.outputs["y"]!)).toEqual(bits(run(large, { x }, { reuseShapeValues: false, buffers: false }).outputs["y"]!));
      ran.push(reused.profile!.length);
      allocated.push(buffers.allocated);
    }
    expect(ran).toEqual([8, 8, 8, 8, 1]);
    // A third run of the same dims creates only its returned output: the ones went back to the pool.
    expect(allocated[2]! - allocated[1]!, "buffers created by a third run of the same dims").toBe(1);
  });
});
