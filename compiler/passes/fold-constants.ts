// fold-constants: evaluate nodes whose inputs are all known, with the same
// kernels the reference backend runs (its kernel table). "Known" includes int tensors whose
// elements shape inference resolved to integers (Shape of a static shape).
// Weights are never read: folding stays a compile-time-only operation.
// DequantizeLinear is never folded: a quantized weight keeps its quantized
// bytes in the plan (fusion makes it a DequantMatMul) even when it is small
// enough to be a literal.

import type { Constant, Graph, Module } from "../../ir/graph/graph.js";
import { mapGraphs } from "../../ir/graph/graph.js";
import { inferNode, initialState, recordResult } from "../../ir/graph/infer.js";
import { kernelFor } from "../../targets/reference/kernel-table.js";
import { withLocation } from "../../ir/diagnostics.js";
import type { Tensor } from "../../ir/tensor.js";
import { tensorFromValues } from "../../ir/tensor.js";
import { KEEP, pruneTypes, rewriteGraph } from "./rewrite.js";
import { registerPass } from "./pass.js";

/** Larger results stay as computations: folding must not bloat the IR. */
export const FOLD_LIMIT_ELEMENTS = 65536;

export function foldConstants(module: Module): Module {
  const opset = module.opsets[""] ?? 0;
  return mapGraphs(module, (graph) => foldGraphConstants(graph, opset));
}

/** One graph with its known values folded (fold-constants of one graph of a module of that opset). */
export function foldGraphConstants(graph: Graph, opset: number): Graph {
  const state = initialState(graph);
  let fresh = 0;
  const folded = rewriteGraph(graph, (node) => {
    const result = inferNode(node, state, opset, () => `unk__f${fresh++}`);
    recordResult(node, result, state);
    const values = new Map<string, Constant>();
    // Outputs whose elements shape arithmetic already knows exactly.
    node.outputs.forEach((out, i) => {
      const sym = result.symbolic?.[i];
      const t = result.types[i];
      if (out === "" || !sym || !t?.shape || !sym.every((d) => typeof d === "number")) return;
      if (!t.shape.every((d) => typeof d === "number")) return;
      values.set(out, { kind: "literal", tensor: tensorFromValues(t.dtype, t.shape as number[], sym as number[]) });
    });
    if (values.size === node.outputs.filter((o) => o !== "").length) return keepLiterals(values, state.literals);
    const kernel = kernelFor(node);
    if (node.domain === "" && node.op === "DequantizeLinear") return KEEP;
    const inputs = node.inputs.map((i) => (i === "" ? undefined : state.literals.get(i)));
    if (!kernel || node.inputs.some((i, k) => i !== "" && inputs[k] === undefined)) return KEEP;
    const small = node.outputs.every((o, i) => {
      const s = result.types[i]?.shape;
      return o === "" || (s && s.every((d) => typeof d === "number") && (s as number[]).reduce((p, d) => p * d, 1) <= FOLD_LIMIT_ELEMENTS);
    });
    if (!small) return KEEP;
    const outputs = withLocation({ node: node.name }, () =>
      kernel(inputs, { attrs: node.attrs, opset, outputCount: node.outputs.length }));
    node.outputs.forEach((out, i) => out !== "" && values.set(out, { kind: "literal", tensor: outputs[i]! }));
    return keepLiterals(values, state.literals);
  });
  return pruneTypes(folded);
}

function keepLiterals(values: Map<string, Constant>, literals: Map<string, Tensor>) {
  for (const [name, c] of values) if (c.kind === "literal") literals.set(name, c.tensor);
  return { kind: "constants", values } as const;
}

registerPass({ name: "fold-constants", summary: "evaluate nodes whose inputs are known, with the reference kernels", run: foldConstants });
