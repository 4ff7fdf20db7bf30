// decompose-composites: replace composite ops (domain tierflow) by the
// primitive nodes of their decomposition, then re-infer shapes. -O0 uses it to
// compile the unfused baseline after fusion has identified the patterns (so
// that attention still knows its KV cache).

import type { Module, Node } from "../../ir/graph/graph.js";
import { mainGraph, withGraph } from "../../ir/graph/graph.js";
import { lookupOp } from "../../ir/graph/ops.js";
import { inferShapes } from "./infer-shapes.js";
import { foldConstants } from "./fold-constants.js";
import { KEEP, definedNames, pruneTypes, rewriteGraph, withFreshNames } from "./rewrite.js";
import { registerPass } from "./pass.js";

export function decomposeComposites(module: Module, keep: ReadonlySet<string> = new Set()): Module {
  const graph = mainGraph(module);
  const taken = definedNames(graph);
  const rewritten = rewriteGraph(graph, (node: Node) => {
    const def = lookupOp(node.domain, node.op);
    if (node.domain !== "tierflow" || !def?.decompose || keep.has(node.op)) return KEEP;
    // A decomposition's values are named after the composite's output, as an import's expansion of it may have been.
    return { kind: "nodes", nodes: withFreshNames(def.decompose(node), taken, node.outputs) };
  });
  // Decompositions spell their constants as Constant nodes: fold them into literals.
  return inferShapes(foldConstants(inferShapes(withGraph(module, 0, pruneTypes(rewritten)))));
}

registerPass({
  name: "decompose-composites",
  summary: "replace fused composite ops by their primitive decompositions",
  run: (m) => decomposeComposites(m),
});
