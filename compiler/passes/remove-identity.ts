// remove-identity: Identity, inference-mode Dropout and a Concat of one input
// (what the TorchScript exporter leaves of a cache's first update, a
// concatenation with an empty tensor) forward their input.
// A node whose output is a graph output stays, so graph outputs keep their names.

import type { Module } from "../../ir/graph/graph.js";
import { mainGraph, withGraph } from "../../ir/graph/graph.js";
import { KEEP, forwardable, pruneTypes, rewriteGraph } from "./rewrite.js";
import { registerPass } from "./pass.js";

const usesMask = (outputs: readonly string[]) => outputs.length > 1 && outputs[1] !== "";

export function removeIdentity(module: Module): Module {
  const graph = mainGraph(module);
  const rewritten = rewriteGraph(graph, (node) => {
    const isIdentity = node.domain === "" &&
      (node.op === "Identity" || (node.op === "Dropout" && !usesMask(node.outputs)) || (node.op === "Concat" && node.inputs.length === 1));
    if (!isIdentity || !forwardable(node, graph) || node.inputs[0] === undefined || node.inputs[0] === "") return KEEP;
    return { kind: "forward", to: new Map([[node.outputs[0]!, node.inputs[0]]]) };
  });
  return withGraph(module, 0, pruneTypes(rewritten));
}

registerPass({ name: "remove-identity", summary: "forward Identity, inference Dropout and one-input Concat to their input", run: removeIdentity });
