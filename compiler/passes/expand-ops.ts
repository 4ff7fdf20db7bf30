// expand-ops: replace the ops tierflow defines by a decomposition outside its
// own domain (onnxruntime's contrib normalisations and activations, ONNX's
// RMSNormalization; ir/graph/ops/expanded.ts) by the primitive nodes of that
// decomposition, so the rest of the pipeline, fusion included, sees the same
// graph an exporter would have written. Composites (domain tierflow) stay: they
// are what fusion makes.

import type { Graph, Module, Node } from "../../ir/graph/graph.js";
import { DTYPES } from "../../ir/dtype.js";
import { mainGraph, withGraph } from "../../ir/graph/graph.js";
import { lookupOp } from "../../ir/graph/ops.js";
import { withLocation } from "../../ir/diagnostics.js";
import { inferShapes } from "./infer-shapes.js";
import { foldConstants } from "./fold-constants.js";
import { KEEP, forwardable, pruneTypes, rewriteGraph } from "./rewrite.js";
import { registerPass } from "./pass.js";

export function expandOps(module: Module): Module {
  const graph = mainGraph(module);
  const written = new Set<string>();
  const rewritten = rewriteGraph(graph, (node: Node) => {
    const def = lookupOp(node.domain, node.op);
    if (node.domain === "tierflow" || !def?.decompose) return KEEP;
    const nodes = withLocation({ node: node.name }, () => def.decompose!(node));
    for (const n of nodes) written.add(n.name);
    return { kind: "nodes", nodes };
  });
  if (written.size === 0) return module;
  const typed = inferShapes(withGraph(module, 0, pruneTypes(rewritten)));
  // Decompositions spell their constants as Constant nodes and their casts as
  // Cast to f32 or CastLike (they are written before types are known): once
  // types are known, the casts settle and the constants fold into literals, so
  // the graph reads as an exporter writes it.
  return inferShapes(foldConstants(withGraph(typed, 0, pruneTypes(settleCasts(mainGraph(typed), written)))));
}

/**
 * In the nodes a decomposition wrote: a cast to the dtype its input already has
 * forwards its input, and CastLike(x, like) is Cast(x, to = like's dtype).
 */
function settleCasts(graph: Graph, written: ReadonlySet<string>): Graph {
  return rewriteGraph(graph, (node, view) => {
    if (!written.has(node.name) || node.domain !== "" || (node.op !== "Cast" && node.op !== "CastLike")) return KEEP;
    const from = graph.types.get(node.inputs[0]!)?.dtype;
    const to = graph.types.get(node.outputs[0]!)?.dtype;
    if (!from || !to) return KEEP;
    if (from === to && forwardable(node, graph)) return { kind: "forward", to: new Map([[node.outputs[0]!, view.resolve(node.inputs[0]!)]]) };
    if (node.op === "Cast") return KEEP;
    return { kind: "nodes", nodes: [{ ...node, op: "Cast", inputs: [node.inputs[0]!], attrs: { to: { type: "int", value: DTYPES[to].onnx } } }] };
  });
}

registerPass({
  name: "expand-ops",
  summary: "replace onnxruntime's contrib normalisations and activations and ONNX's RMSNormalization by their primitive decompositions",
  run: expandOps,
});
