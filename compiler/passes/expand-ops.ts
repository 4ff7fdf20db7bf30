// expand-ops: replace the ops tierflow defines by a decomposition outside its
// own domain (onnxruntime's contrib normalisations and activations, ONNX's
// RMSNormalization; ir/graph/ops/expanded.ts) by the primitive nodes of that
// decomposition, so the rest of the pipeline, fusion included, sees the same
// graph an exporter would have written; and the attention-family ops
// (ir/graph/ops/attention-ops.ts) by their expansion into tierflow's own ops,
// one Attention or Rotary composite each with the reshapes, KV cache
// concatenation and mask around it. Composites (domain tierflow) stay: they
// are what fusion makes.

import type { Graph, Module, Node } from "../../ir/graph/graph.js";
import type { ExpandContext } from "../../ir/graph/op-def.js";
import { DTYPES } from "../../ir/dtype.js";
import { mainGraph, withGraph } from "../../ir/graph/graph.js";
import { lookupOp } from "../../ir/graph/ops.js";
import { withLocation } from "../../ir/diagnostics.js";
import { inferGraph } from "../../ir/graph/infer.js";
import { valuesAsNumbers } from "../../ir/tensor.js";
import { inferShapes } from "./infer-shapes.js";
import { foldConstants } from "./fold-constants.js";
import { KEEP, definedNames, forwardable, pruneTypes, rewriteGraph, withFreshNames } from "./rewrite.js";
import { registerPass } from "./pass.js";

export function expandOps(module: Module): Module {
  const graph = mainGraph(module);
  const written = new Set<string>();
  const context = expandContext(module, graph);
  const taken = definedNames(graph);
  const rewritten = rewriteGraph(graph, (node: Node) => {
    const def = lookupOp(node.domain, node.op);
    if (node.domain === "tierflow" || !def || !(def.expand || def.decompose)) return KEEP;
    const expansion = withLocation({ node: node.name }, () => (def.expand ? def.expand(node, context()) : def.decompose!(node)));
    const nodes = withFreshNames(expansion, taken, node.outputs);
    for (const n of nodes) written.add(n.name);
    return { kind: "nodes", nodes };
  });
  if (written.size === 0) return module;
  // Expansions may write tierflow's composites: the module then imports its domain.
  const composites = rewritten.nodes.some((n) => n.domain === "tierflow") && module.opsets["tierflow"] === undefined;
  const imported = composites ? { ...module, opsets: { ...module.opsets, tierflow: 1 } } : module;
  const typed = inferShapes(withGraph(imported, 0, pruneTypes(rewritten)));
  // Decompositions spell their constants as Constant nodes and their casts as
  // Cast to f32 or CastLike (they are written before types are known): once
  // types are known, the casts settle and the constants fold into literals, so
  // the graph reads as an exporter writes it.
  return inferShapes(foldConstants(withGraph(typed, 0, pruneTypes(settleCasts(mainGraph(typed), written)))));
}

/** Types and small int values of the graph as imported, inferred once, when the first expansion asks. */
function expandContext(module: Module, graph: Graph): () => ExpandContext {
  let context: ExpandContext | undefined;
  return () => {
    if (context) return context;
    const state = inferGraph(graph, module.opsets[""] ?? 0);
    return (context = {
      type: (name) => state.types.get(name),
      elements: (name) => {
        const literal = state.literals.get(name);
        return state.symbolic.get(name) ?? (literal && literal.data.length <= 64 ? valuesAsNumbers(literal) : undefined);
      },
    });
  };
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
  summary: "replace onnxruntime's contrib normalisations and activations and ONNX's RMSNormalization by their primitive decompositions, and the attention-family ops by tierflow's Attention and Rotary",
  run: expandOps,
});
