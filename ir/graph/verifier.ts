// Graph-level verifier. Checks, and names the node when one fails:
// - every value is defined exactly once (graph input, constant or node output)
//   and before it is used, which also rules out cycles;
// - every op is in the op table with valid arity and attributes;
// - every recorded type agrees with what the op's inference derives;
// - every graph output is defined.

import type { Graph, Module, TensorType } from "./graph.js";
import { fail, withLocation } from "../diagnostics.js";
import { inferNode, initialState, recordResult } from "./infer.js";
import type { Dim } from "../symbolic.js";

function formatType(t: TensorType): string {
  return `${t.dtype}[${t.shape ? t.shape.join(", ") : "*"}]`;
}

const isFresh = (d: Dim) => typeof d === "string" && d.startsWith("unk__");

/** A recorded type agrees with an inferred one when dtypes match and dims match where inference knows them. */
function compatible(recorded: TensorType, inferred: TensorType): boolean {
  if (recorded.dtype !== inferred.dtype) return false;
  if (!recorded.shape || !inferred.shape) return true;
  if (recorded.shape.length !== inferred.shape.length) return false;
  return recorded.shape.every((d, i) => d === inferred.shape![i] || isFresh(inferred.shape![i]!) || isFresh(d));
}

export function verifyGraph(graph: Graph, opset: number): void {
  const defined = new Set<string>();
  const define = (name: string, what: string, node?: string) => {
    if (name === "") fail(`${what} has an empty name`, node ? { node } : {});
    if (defined.has(name)) fail(`value '${name}' is defined more than once`, node ? { node } : {});
    defined.add(name);
  };
  for (const name of graph.inputs) {
    define(name, "graph input");
    if (!graph.types.has(name)) fail(`graph input '${name}' has no type`);
  }
  for (const name of graph.constants.keys()) define(name, "constant");

  const state = initialState(graph);
  let fresh = 0;
  for (const node of graph.nodes) {
    withLocation({ node: node.name }, () => {
      for (const input of node.inputs) {
        if (input !== "" && !defined.has(input)) fail(`input '${input}' is used before it is defined (or never defined)`);
      }
      const result = inferNode(node, state, opset, () => `unk__v${fresh++}`);
      node.outputs.forEach((out, i) => {
        if (out === "") return;
        define(out, "node output", node.name);
        const recorded = graph.types.get(out);
        const inferred = result.types[i];
        if (recorded && inferred && !compatible(recorded, inferred)) {
          fail(`output '${out}' is typed ${formatType(recorded)} but ${node.op} gives ${formatType(inferred)}`);
        }
      });
      // Continue from the recorded types so one mismatch is reported once.
      recordResult(node, result, state);
      for (const out of node.outputs) {
        const recorded = graph.types.get(out);
        if (recorded) state.types.set(out, recorded);
      }
    });
  }
  for (const out of graph.outputs) if (!defined.has(out)) fail(`graph output '${out}' is never defined`);
}

/**
 * Check a graph-level module against the op table: every value defined before its use,
 * op arities, attributes and inferred types consistent with those recorded, every graph
 * output defined. Returns nothing; the first problem throws a TierflowError naming the node.
 *
 * @example
 * ```ts
 * import { importOnnxFile, verifyModule } from "tierflow";
 *
 * verifyModule(importOnnxFile("examples/models/bert-tiny.torchscript.onnx"));
 * ```
 */
export function verifyModule(module: Module): void {
  const opset = module.opsets[""] ?? 0;
  for (const graph of module.graphs) verifyGraph(graph, opset);
}
