// Composite ops as data cases: each runs through its reference kernel (its
// decomposition evaluated with the primitive kernels) against values worked out
// by hand, including broadcasting, grouped heads and a zero-size tensor. The
// decomposition must also be well-typed primitive IR whose inferred output
// types equal the composite's own inference.

import { describe, expect, it } from "vitest";
import type { Attrs, Graph, Module, Node, TensorType } from "../../ir/graph/graph.js";
import { mainGraph } from "../../ir/graph/graph.js";
import { lookupOp } from "../../ir/graph/ops.js";
import { lookupKernel } from "../../targets/reference/kernel-table.js";
import { runPipeline } from "../../compiler/passes/pipeline.js";
import type { DType } from "../../ir/dtype.js";
import type { Tensor } from "../../ir/tensor.js";
import { tensorFromValues } from "../../ir/tensor.js";
import { COMPOSITE_OPS } from "../../ir/graph/ops/composite.js";
import { COMPOSITE_DOMAIN, DECOMPOSITION_OPSET } from "../../ir/graph/ops/decompose.js";

interface Data { dims: number[]; values: number[]; dtype?: DType }
interface Case { op: string; name: string; attrs?: Attrs; inputs: Data[]; outputs: Data[] }

const f = (value: number) => ({ type: "float", value }) as const;
const i = (value: number) => ({ type: "int", value }) as const;

const CASES: Case[] = [
  { op: "RMSNorm", name: "rows", attrs: { epsilon: f(0) }, inputs: [{ dims: [2, 2], values: [1, 2, 3, 4] }, { dims: [2], values: [1, 2] }],
    outputs: [{ dims: [2, 2], values: [0.6324555, 2.5298221, 0.8485281, 2.2627417] }] },
  { op: "RMSNorm", name: "zero-size", inputs: [{ dims: [0, 2], values: [] }, { dims: [2], values: [1, 2] }], outputs: [{ dims: [0, 2], values: [] }] },
  { op: "SiLU", name: "scalar-like", inputs: [{ dims: [3], values: [0, 1, -1] }], outputs: [{ dims: [3], values: [0, 0.7310586, -0.2689414] }] },
  { op: "SwiGLU", name: "broadcast", inputs: [{ dims: [2, 1], values: [1, 0] }, { dims: [1, 2], values: [2, 3] }],
    outputs: [{ dims: [2, 2], values: [1.4621172, 2.1931758, 0, 0] }] },
  { op: "MatMulBias", name: "identity", inputs: [{ dims: [1, 2], values: [1, 2] }, { dims: [2, 2], values: [1, 0, 0, 1] }, { dims: [2], values: [10, 20] }],
    outputs: [{ dims: [1, 2], values: [11, 22] }] },
  { op: "Rotary", name: "half turn", inputs: [{ dims: [1, 4], values: [1, 2, 3, 4] }, { dims: [4], values: [0.5, 0.5, 0.5, 0.5] }, { dims: [4], values: [0.5, 0.5, 0.5, 0.5] }],
    outputs: [{ dims: [1, 4], values: [-1, -1, 2, 3] }] },
  { op: "Attention", name: "grouped heads", attrs: { scale: f(1), kv_groups: i(2) },
    inputs: [{ dims: [1, 2, 1, 1], values: [1, -1] }, { dims: [1, 1, 2, 1], values: [0, 1] }, { dims: [1, 1, 2, 1], values: [10, 20] }],
    outputs: [{ dims: [1, 2, 1, 1], values: [17.310586, 12.689414] }] },
  { op: "Attention", name: "masked", attrs: { scale: f(1), kv_groups: i(2) },
    inputs: [{ dims: [1, 2, 1, 1], values: [1, -1] }, { dims: [1, 1, 2, 1], values: [0, 1] }, { dims: [1, 1, 2, 1], values: [10, 20] }, { dims: [1, 1, 1, 2], values: [0, -1e9] }],
    outputs: [{ dims: [1, 2, 1, 1], values: [10, 10] }] },
  { op: "MoEGate", name: "normalized", attrs: { k: i(2) }, inputs: [{ dims: [1, 3], values: [0, Math.LN2, 2 * Math.LN2] }],
    outputs: [{ dims: [1, 2], values: [2 / 3, 1 / 3] }, { dims: [1, 2], values: [2, 1], dtype: "i64" }] },
  { op: "MoEGate", name: "raw", attrs: { k: i(2), normalize: i(0) }, inputs: [{ dims: [1, 3], values: [0, Math.LN2, 2 * Math.LN2] }],
    outputs: [{ dims: [1, 2], values: [4 / 7, 2 / 7] }, { dims: [1, 2], values: [2, 1], dtype: "i64" }] },
  { op: "MoEExperts", name: "one token, expert 1",
    inputs: [{ dims: [1, 1], values: [2] }, { dims: [1, 1], values: [0.5] }, { dims: [1, 1], values: [1], dtype: "i64" },
      { dims: [2, 2, 1], values: [9, 9, 1, 2] }, { dims: [2, 1, 1], values: [9, 3] }],
    outputs: [{ dims: [1, 1], values: [10.569565] }] },
];

const tensor = (d: Data): Tensor => tensorFromValues(d.dtype ?? "f32", d.dims, d.dtype === "i64" ? d.values.map(BigInt) : d.values);

function compositeNode(c: Case): Node {
  return { op: c.op, domain: COMPOSITE_DOMAIN, inputs: c.inputs.map((_, k) => `in${k}`), outputs: c.outputs.map((_, k) => `out${k}`), attrs: c.attrs ?? {}, name: c.op };
}

/** Output types of `nodes` as a graph, once its Constant nodes are literals (so shape arithmetic over them resolves). */
function typesOf(nodes: Node[], c: Case): (TensorType | undefined)[] {
  const inputs = c.inputs.map((_, k) => `in${k}`);
  const graph: Graph = {
    name: "g", inputs, outputs: c.outputs.map((_, k) => `out${k}`), constants: new Map(), nodes,
    types: new Map(c.inputs.map((d, k) => [inputs[k]!, { dtype: d.dtype ?? "f32", shape: d.dims }] as const)),
  };
  const module: Module = { name: "m", source: "m.tfg", irVersion: 10, producer: "test", opsets: { "": DECOMPOSITION_OPSET }, graphs: [graph] };
  const typed = mainGraph(runPipeline(module, "fold-constants,infer-shapes", { verifyEach: true }).module);
  return typed.outputs.map((o) => typed.types.get(o));
}

describe("composite ops", () => {
  for (const c of CASES) {
    it(`${c.op}: ${c.name}`, () => {
      const def = lookupOp(COMPOSITE_DOMAIN, c.op)!, kernel = lookupKernel(COMPOSITE_DOMAIN, c.op)!;
      const node = compositeNode(c);
      const results = kernel(c.inputs.map(tensor), { attrs: node.attrs, opset: DECOMPOSITION_OPSET, outputCount: c.outputs.length });
      c.outputs.forEach((want, k) => {
        const got = results[k]!;
        expect(got.dtype).toBe(want.dtype ?? "f32");
        expect([...got.dims]).toEqual(want.dims);
        Array.from(got.data as ArrayLike<number | bigint>, Number).forEach((v, j) => expect(v).toBeCloseTo(want.values[j]!, 5));
      });
      const decomposed = def.decompose!(node);
      expect(decomposed.every((n) => n.domain === "")).toBe(true);
      expect(typesOf(decomposed, c)).toEqual(typesOf([node], c));
    });
  }

  it("every composite has a doc with sample IR, a cost and a decomposition", () => {
    for (const def of COMPOSITE_OPS) {
      expect(def.doc, def.op).toContain(`"tierflow".${def.op}(`);
      expect(def.cost, def.op).toBeDefined();
      expect(def.decompose, def.op).toBeDefined();
    }
  });
});
