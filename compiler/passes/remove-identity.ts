// remove-identity: Identity, inference-mode Dropout (no training_mode, a
// literal false, or a literal ratio of 0: one whose mode is known only at run
// time stays, so the runtime can refuse training) and a Concat of one input
// (what the TorchScript exporter leaves of a cache's first update, a
// concatenation with an empty tensor) forward their input.
// A node whose output is a graph output stays, so graph outputs keep their names.

import type { Graph, Module, Node } from "../../ir/graph/graph.js";
import { mapGraphs } from "../../ir/graph/graph.js";
import { KEEP, forwardable, pruneTypes, rewriteGraph } from "./rewrite.js";
import { registerPass } from "./pass.js";

const usesMask = (outputs: readonly string[]) => outputs.length > 1 && outputs[1] !== "";

/** A one-element literal's value, when the input is one. */
function scalarLiteral(name: string | undefined, graph: Graph): number | boolean | bigint | undefined {
  const c = name !== undefined && name !== "" ? graph.constants.get(name) : undefined;
  return c !== undefined && c.kind === "literal" && c.tensor.data.length === 1 ? (c.tensor.data[0] as number | boolean | bigint) : undefined;
}

/** Dropout is the identity in inference mode (no training_mode, or a literal false) or at a literal ratio of 0. */
function identityDropout(node: Node, graph: Graph): boolean {
  const mode = node.inputs[2];
  if (mode === undefined || mode === "") return true;
  const literalMode = scalarLiteral(mode, graph);
  return (literalMode !== undefined && !literalMode) || Number(scalarLiteral(node.inputs[1], graph) ?? NaN) === 0;
}

export function removeIdentity(module: Module): Module {
  return mapGraphs(module, removeGraphIdentities);
}

function removeGraphIdentities(graph: Graph): Graph {
  const rewritten = rewriteGraph(graph, (node) => {
    const isIdentity = node.domain === "" &&
      (node.op === "Identity" || (node.op === "Dropout" && !usesMask(node.outputs) && identityDropout(node, graph)) || (node.op === "Concat" && node.inputs.length === 1));
    if (!isIdentity || !forwardable(node, graph) || node.inputs[0] === undefined || node.inputs[0] === "") return KEEP;
    return { kind: "forward", to: new Map([[node.outputs[0]!, node.inputs[0]]]) };
  });
  return pruneTypes(rewritten);
}

registerPass({ name: "remove-identity", summary: "forward Identity, inference Dropout and one-input Concat to their input", run: removeIdentity });
