// The ONNX front end on small built models: local functions, Constant nodes,
// initializers listed as inputs, weights kept on disk, symbolic dim names.

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { importOnnxFile } from "../../compiler/onnx/import-file.js";
import { loadModel } from "../../compiler/load.js";
import { printModule } from "../../ir/graph/printer.js";
import { mainGraph } from "../../ir/graph/graph.js";
import { ONNX_FLOAT, floatTensor, int64Tensor, model, node, valueInfo, writeModel } from "../support/onnx-builder.js";

const dir = mkdtempSync(join(tmpdir(), "tierflow-import-"));

describe("ONNX import", () => {
  it("inlines local functions, binding attributes and renaming inner values", async () => {
    const scaledRelu = {
      name: "ScaledRelu", domain: "custom", input: ["x"], output: ["y"], attribute: ["alpha"],
      opsetImport: [{ domain: "", version: 17 }],
      node: [
        node("Relu", ["x"], ["r"], {}, "inner_relu"),
        { opType: "LeakyRelu", input: [], output: [], attribute: [] }, // replaced below
      ],
    };
    scaledRelu.node[1] = { opType: "Softmax", input: ["r"], output: ["y"], name: "inner_softmax", attribute: [{ name: "axis", refAttrName: "alpha", type: 2 }] };
    const f = writeModel(join(dir, "fn.onnx"), model({
      inputs: [valueInfo("x", ONNX_FLOAT, ["n", 4])], outputs: ["out"],
      nodes: [node("ScaledRelu", ["x"], ["mid"], { alpha: 0 }, "call1", "custom"), node("ScaledRelu", ["mid"], ["out"], { alpha: 1 }, "call2", "custom")],
      functions: [scaledRelu], extraOpsets: [{ domain: "custom", version: 1 }],
    }));
    const { module } = await loadModel(f, { verifyEach: true });
    const g = mainGraph(module);
    expect(g.nodes.map((n) => `${n.op}:${n.name}`)).toEqual(["Relu:call1/inner_relu", "Softmax:call1/inner_softmax", "Relu:call2/inner_relu", "Softmax:call2/inner_softmax"]);
    expect(g.nodes[1]!.attrs.axis).toEqual({ type: "int", value: 0 });
    expect(g.nodes[3]!.attrs.axis).toEqual({ type: "int", value: 1 });
    expect(g.nodes[0]!.outputs[0]).toBe("call1/r");
    expect(g.types.get("out")).toEqual({ dtype: "f32", shape: ["n", 4] });
  });

  it("turns Constant nodes into literals and keeps large initializers on disk", () => {
    const big = floatTensor("big", [32, 64], new Array(32 * 64).fill(0.5));
    const f = writeModel(join(dir, "const.onnx"), model({
      inputs: [valueInfo("x", ONNX_FLOAT, [2, 32]), valueInfo("big", ONNX_FLOAT, [32, 64])], outputs: ["y"],
      initializers: [big],
      nodes: [node("Constant", [], ["k"], { value: int64Tensor("", [2], [2, -1]) }), node("MatMul", ["x", "big"], ["m"]), node("Reshape", ["m", "k"], ["y"])],
    }));
    const m = importOnnxFile(f);
    const g = mainGraph(m);
    expect(g.inputs).toEqual(["x"]); // an initializer listed as an input is a constant
    const k = g.constants.get("k")!;
    expect(k.kind === "literal" && Array.from(k.tensor.data as BigInt64Array)).toEqual([2n, -1n]);
    const w = g.constants.get("big")!;
    expect(w.kind).toBe("weight");
    if (w.kind === "weight") {
      expect(w.ref.file).toBe("const.onnx");
      expect(w.ref.length).toBe(32 * 64 * 4);
      expect(w.dims).toEqual([32, 64]);
    }
    expect(printModule(m)).toMatch(/%big: f32\[32, 64\] = weight "const\.onnx" offset \d+ length 8192/);
  });

  it("keeps dim_param names and reads expressions in them", () => {
    const f = writeModel(join(dir, "dims.onnx"), model({
      inputs: [valueInfo("a", ONNX_FLOAT, ["s23", "2*s23 + 1"]), valueInfo("b", ONNX_FLOAT, ["batch size", 3])], outputs: ["a2", "b2"],
      nodes: [node("Relu", ["a"], ["a2"]), node("Relu", ["b"], ["b2"])],
    }));
    const g = mainGraph(importOnnxFile(f));
    expect(g.types.get("a")!.shape).toEqual(["s23", "2*s23+1"]);
    expect(g.types.get("b")!.shape).toEqual(["batch_size", 3]);
  });
});
