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
import { mapGraphs } from "../../ir/graph/graph.js";
import { lookupOp } from "../../ir/graph/ops.js";
import { withLocation } from "../../ir/diagnostics.js";
import { inferGraph } from "../../ir/graph/infer.js";
import { valuesAsNumbers } from "../../ir/tensor.js";
import { settleDecomposition } from "./settle-decomposition.js";
import { KEEP, definedNames, rewriteGraph, withFreshNames } from "./rewrite.js";
import { registerPass } from "./pass.js";

export function expandOps(module: Module): Module {
  const expanded = mapGraphs(module, (graph) => expandGraph(graph, module));
  // Expansions may write tierflow's composites: the module then imports its domain.
  const composites = expanded.graphs.some((g) => g.nodes.some((n) => n.domain === "tierflow")) && module.opsets["tierflow"] === undefined;
  return expanded !== module && composites ? { ...expanded, opsets: { ...module.opsets, tierflow: 1 } } : expanded;
}

function expandGraph(graph: Graph, module: Module): Graph {
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
  return written.size === 0 ? graph : settleDecomposition(rewritten, written, module.opsets[""] ?? 0);
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

registerPass({
  name: "expand-ops",
  summary: "replace onnxruntime's contrib normalisations and activations and ONNX's RMSNormalization by their primitive decompositions, and the attention-family ops by tierflow's Attention and Rotary",
  run: expandOps,
});
