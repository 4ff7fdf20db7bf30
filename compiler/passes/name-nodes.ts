// name-nodes: every node gets a name no other node of its graph has. A plan's
// kernels name the graph nodes they implement and the runtime finds them by
// name, so an unnamed node (IR text without loc(...)) or two nodes of one name
// would leave a kernel's node ambiguous. A node is named after its first output
// (values are SSA, so that is free unless a node already took it), else after
// its op and position.

import type { Graph, Module, Node } from "../../ir/graph/graph.js";
import { mapGraphs } from "../../ir/graph/graph.js";
import { registerPass } from "./pass.js";

export function nameNodes(module: Module): Module {
  return mapGraphs(module, nameGraphNodes);
}

function nameGraphNodes(graph: Graph): Graph {
  const taken = new Set<string>();
  const wanted = new Set(graph.nodes.map((n) => n.name).filter((n) => n !== ""));
  let changed = false;
  const nodes: Node[] = graph.nodes.map((node, i) => {
    if (node.name !== "" && !taken.has(node.name)) {
      taken.add(node.name);
      return node;
    }
    const first = node.outputs.find((o) => o !== "");
    let name = first !== undefined && !wanted.has(first) && !taken.has(first) ? first : `${node.op}_${i}`;
    for (let k = 1; taken.has(name) || (name !== first && wanted.has(name)); k++) name = `${node.op}_${i}_${k}`;
    taken.add(name);
    changed = true;
    return { ...node, name };
  });
  return changed ? { ...graph, nodes } : graph;
}

registerPass({ name: "name-nodes", summary: "give every node a name of its own (a plan's kernels find their nodes by name)", run: nameNodes });
