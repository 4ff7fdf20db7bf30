// remove-identity: Identity and inference-mode Dropout forward their input.
// A node whose output is a graph output stays, so graph outputs keep their names.

import type { Module } from "../../ir/graph/graph.js";
import { mainGraph, withGraph } from "../../ir/graph/graph.js";
import { KEEP, forwardable, pruneTypes, rewriteGraph } from "./rewrite.js";
import { registerPass } from "./pass.js";

const usesMask = (outputs: readonly string[]) => outputs.length > 1 && outputs[1] !== "";

export function removeIdentity(module: Module): Module {
  const graph = mainGraph(module);
  const rewritten = rewriteGraph(graph, (node) => {
    const isIdentity = node.domain === "" && (node.op === "Identity" || (node.op === "Dropout" && !usesMask(node.outputs)));
    if (!isIdentity || !forwardable(node, graph) || node.inputs[0] === undefined || node.inputs[0] === "") return KEEP;
    return { kind: "forward", to: new Map([[node.outputs[0]!, node.inputs[0]]]) };
  });
  return withGraph(module, 0, pruneTypes(rewritten));
}

registerPass({ name: "remove-identity", summary: "forward Identity and inference Dropout to their input", run: removeIdentity });
