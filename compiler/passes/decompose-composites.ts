// decompose-composites: replace composite ops (domain tierflow) by the
// primitive nodes of their decomposition, then re-infer shapes, settling the
// decompositions' casts and folding their constants as expand-ops does. -O0
// uses it to compile the unfused baseline after fusion has identified the
// patterns (so that attention still knows its KV cache).

import type { Graph, Module, Node } from "../../ir/graph/graph.js";
import { mapGraphs } from "../../ir/graph/graph.js";
import { lookupOp } from "../../ir/graph/ops.js";
import { settleDecomposition } from "./settle-decomposition.js";
import { KEEP, definedNames, rewriteGraph, withFreshNames } from "./rewrite.js";
import { registerPass } from "./pass.js";

export function decomposeComposites(module: Module, keep: ReadonlySet<string> = new Set()): Module {
  const opset = module.opsets[""] ?? 0;
  return mapGraphs(module, (graph) => decomposeGraph(graph, opset, keep));
}

function decomposeGraph(graph: Graph, opset: number, keep: ReadonlySet<string>): Graph {
  const written = new Set<string>();
  const taken = definedNames(graph);
  const rewritten = rewriteGraph(graph, (node: Node) => {
    const def = lookupOp(node.domain, node.op);
    if (node.domain !== "tierflow" || !def?.decompose || keep.has(node.op)) return KEEP;
    // A decomposition's values are named after the composite's output, as an import's expansion of it may have been.
    const nodes = withFreshNames(def.decompose(node), taken, node.outputs);
    for (const n of nodes) written.add(n.name);
    return { kind: "nodes", nodes };
  });
  return settleDecomposition(rewritten, written, opset);
}

registerPass({
  name: "decompose-composites",
  summary: "replace fused composite ops by their primitive decompositions",
  run: (m) => decomposeComposites(m),
});
