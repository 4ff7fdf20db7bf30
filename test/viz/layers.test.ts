// The visualiser's layers: from node names (TorchScript), else from the
// weights a kernel alone reads (dynamo keeps parameter names, not node names),
// with the kernels between two of one layer taken in; a weight several kernels
// share (one copy of equal weights) says nothing.

import { describe, expect, it } from "vitest";
import type { DfKernel } from "../../ir/dataflow/dataflow.js";
import { kernelLayers } from "../../compiler/viz/hierarchy.js";
import { compile } from "../../compiler/compile.js";
import { join } from "node:path";
import { ROOT } from "../support/cli.js";

const kernel = (name: string, inputs: string[], nodes: string[] = [`node_${name}`]) => ({ name, inputs, nodes }) as unknown as DfKernel;

describe("layers of a plan's kernels", () => {
  it("from weights read once, filled between kernels of one layer, not from shared weights", () => {
    const kernels = [
      kernel("embed", ["model.embed_tokens.weight", "input_ids"]),
      kernel("norm0", ["x0", "model.layers.0.input_layernorm.weight", "ones"]),
      kernel("add0", ["x1", "x2"]),
      kernel("mlp0", ["x3", "model.layers.0.mlp.up_proj.weight"]),
      kernel("norm1", ["x4", "model.layers.1.input_layernorm.weight", "ones"]),
      kernel("torch", ["x5"], ["/model/layers.1/self_attn/MatMul"]),
      kernel("head", ["x6", "lm_head.weight", "ones"]),
    ];
    expect(kernelLayers(kernels)).toEqual([undefined, "layers.0", "layers.0", "layers.0", "layers.1", "layers.1", undefined]);
    const shared = [kernel("a", ["model.layers.0.norm.weight"]), kernel("b", ["y"]), kernel("c", ["model.layers.0.norm.weight"])];
    expect(kernelLayers(shared)).toEqual([undefined, undefined, undefined]);
  });

  it("an opset 23 export's two decoder layers", async () => {
    const r = await compile(join(ROOT, "examples/deploy/qwen2.opset23.onnx"), { target: "sn40l", opt: 0, seq: 8 });
    expect(new Set(kernelLayers(r.plan.dataflow.kernels).filter((l) => l !== undefined))).toEqual(new Set(["layers.0", "layers.1"]));
  });
});
