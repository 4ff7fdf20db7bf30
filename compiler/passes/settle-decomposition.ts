// What expand-ops and decompose-composites do to a graph after writing the
// nodes of decompositions. Decompositions spell their constants as Constant
// nodes and their casts as Cast to f32 or CastLike (they are written before
// types are known): once types are known, the casts settle and the constants
// fold into literals, so the graph reads as an exporter writes it.

import type { Graph } from "../../ir/graph/graph.js";
import { DTYPES } from "../../ir/dtype.js";
import { inferGraphShapes } from "./infer-shapes.js";
import { foldGraphConstants } from "./fold-constants.js";
import { KEEP, forwardable, pruneTypes, rewriteGraph } from "./rewrite.js";

/** Type `graph`, settle the casts among the nodes named in `written`, fold constants and type it again. */
export function settleDecomposition(graph: Graph, written: ReadonlySet<string>, opset: number): Graph {
  const typed = inferGraphShapes(pruneTypes(graph), opset);
  return inferGraphShapes(foldGraphConstants(pruneTypes(settleCasts(typed, written)), opset), opset);
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
