// ScatterElements: data cases worked by hand, refusals, and random cases
// against onnxruntime (every reduction, negative indices, both axes).

import { describe, expect, it } from "vitest";
import * as ort from "onnxruntime-node";
import { lookupKernel } from "../../targets/reference/kernel-table.js";
import { DTYPES } from "../../ir/dtype.js";
import type { Tensor } from "../../ir/tensor.js";
import { tensorFromValues } from "../../ir/tensor.js";
import { TierflowError } from "../../ir/diagnostics.js";
import { encodeModel } from "../../compiler/onnx/proto.js";
import { seededRandom } from "../../compiler/seeded-random.js";
import { model, node, valueInfo } from "../support/onnx-builder.js";
import type { PlainAttr } from "../support/attrs.js";
import { toAttrs } from "../support/attrs.js";

const scatter = (inputs: Tensor[], attrs: Record<string, PlainAttr> = {}): Tensor =>
  lookupKernel("", "ScatterElements")!(inputs, { attrs: toAttrs(attrs), opset: 18, outputCount: 1 })[0]!;
const f32 = (dims: number[], data: number[]) => tensorFromValues("f32", dims, data);
const i64 = (dims: number[], data: number[]) => tensorFromValues("i64", dims, data.map(BigInt));

describe("ScatterElements kernel", () => {
  it("writes each update at its index along axis 0", () => {
    const out = scatter([f32([3, 2], [0, 0, 0, 0, 0, 0]), i64([2, 2], [1, 0, 2, 1]), f32([2, 2], [1, 2, 3, 4])]);
    // update (0,0) -> row 1 col 0; (0,1) -> row 0 col 1; (1,0) -> row 2 col 0; (1,1) -> row 1 col 1
    expect(Array.from(out.data as Float32Array)).toEqual([0, 2, 1, 4, 3, 0]);
  });

  it("takes negative indices along axis 1 and adds under reduction add", () => {
    const out = scatter([f32([1, 4], [1, 1, 1, 1]), i64([1, 3], [-1, 0, -1]), f32([1, 3], [5, 6, 7])], { axis: 1, reduction: "add" });
    expect(Array.from(out.data as Float32Array)).toEqual([7, 1, 1, 13]);
  });

  it("builds DeepSeek-V3's group mask: zeros with ones at the chosen groups", () => {
    const out = scatter([f32([2, 4], new Array(8).fill(0)), i64([2, 1], [2, 0]), f32([2, 1], [1, 1])], { axis: 1 });
    expect(Array.from(out.data as Float32Array)).toEqual([0, 0, 1, 0, 1, 0, 0, 0]);
  });

  it("refuses an index out of range and mismatched shapes, naming the op", () => {
    expect(() => scatter([f32([2], [0, 0]), i64([1], [2]), f32([1], [1])])).toThrow(/ScatterElements index 2 is out of range/);
    expect(() => scatter([f32([2], [0, 0]), i64([2], [0, 1]), f32([1], [1])])).toThrow(TierflowError);
  });
});

async function ortScatter(inputs: Tensor[], attrs: Record<string, PlainAttr>): Promise<Float32Array> {
  const names = ["data", "indices", "updates"];
  const m = model({
    nodes: [node("ScatterElements", names, ["y"], attrs)], opset: 18, outputs: ["y"],
    inputs: inputs.map((t, i) => valueInfo(names[i]!, DTYPES[t.dtype].onnx, [...t.dims])),
  });
  const session = await ort.InferenceSession.create(encodeModel(m));
  const feeds = Object.fromEntries(inputs.map((t, i) => [names[i]!, new ort.Tensor(t.dtype === "i64" ? "int64" : "float32", t.data as Float32Array, [...t.dims])]));
  return (await session.run(feeds))["y"]!.data as Float32Array;
}

describe("ScatterElements against onnxruntime", () => {
  for (const [axis, reduction] of [[0, "none"], [1, "add"], [1, "mul"], [0, "max"], [1, "min"]] as const) {
    it(`axis ${axis}, reduction ${reduction}`, async () => {
      const random = seededRandom(17 + axis * 5 + reduction.length);
      const dims = [5, 6], idxDims = [3, 4];
      const data = f32(dims, Array.from({ length: 30 }, () => random() * 2 - 1));
      const updates = f32(idxDims, Array.from({ length: 12 }, () => random() * 2 - 1));
      // Distinct positions per line for "none", so the result does not depend on which write lands last.
      const bound = dims[axis]!;
      const index = Array.from({ length: 12 }, (_, i) => {
        const line = axis === 0 ? i % 4 : Math.floor(i / 4), k = axis === 0 ? Math.floor(i / 4) : i % 4;
        const v = reduction === "none" ? (k + line) % bound : Math.floor(random() * bound);
        return random() < 0.5 ? v - bound : v;
      });
      const inputs = [data, i64(idxDims, index), updates];
      const want = await ortScatter(inputs, { axis, reduction });
      const got = scatter(inputs, { axis, reduction });
      expect(Array.from(got.data as Float32Array)).toEqual(Array.from(want));
    });
  }
});
