// dce: drop nodes and constants that no graph output depends on.

import type { Constant, Graph, Module, Node } from "../../ir/graph/graph.js";
import { mapGraphs } from "../../ir/graph/graph.js";
import { pruneTypes } from "./rewrite.js";
import { registerPass } from "./pass.js";

export function eliminateDeadCode(module: Module): Module {
  return mapGraphs(module, dceGraph);
}

// Each graph is rooted at its own outputs; its inputs are its signature and stay.
function dceGraph(graph: Graph): Graph {
  const live = new Set(graph.outputs);
  const kept: Node[] = [];
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const node = graph.nodes[i]!;
    if (!node.outputs.some((o) => live.has(o))) continue;
    kept.push(node);
    for (const input of node.inputs) if (input !== "") live.add(input);
  }
  kept.reverse();
  const constants = new Map<string, Constant>();
  for (const [name, c] of graph.constants) if (live.has(name)) constants.set(name, c);
  return pruneTypes({ ...graph, nodes: kept, constants });
}

registerPass({ name: "dce", summary: "remove nodes and constants no output depends on", run: eliminateDeadCode });
