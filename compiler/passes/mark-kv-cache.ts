// mark-kv-cache: find the KV caches a "with past" export takes and returns
// (Optimum, transformers.js and onnxruntime-genai models: inputs
// past_key_values.<l>.key|value, outputs present.<l>.key|value) and say so in
// the graph. Such a cache is a graph input concatenated with the new tokens'
// keys or values on the token axis (axis 2 of [batch, kv_heads, tokens,
// head_dim]) into a graph output; that Concat becomes tierflow.CacheAppend,
// which the lowering turns into the plan's KV cache: one buffer in its tier
// that the step appends to in place, rather than an input copied in and an
// output copied out. The graph computes the same values either way.

import type { Graph, Module, Node } from "../../ir/graph/graph.js";
import { attrInt, mapGraphs } from "../../ir/graph/graph.js";
import { isFloat } from "../../ir/dtype.js";
import { COMPOSITE_DOMAIN } from "../../ir/graph/ops/decompose.js";
import { KEEP, rewriteGraph } from "./rewrite.js";
import { registerPass } from "./pass.js";

/**
 * A Concat that appends to a cache input and returns the cache as an output;
 * the input is read by nothing else but Shape and Size (its tokens exist only
 * at the front of the cache).
 */
export function isCacheConcat(node: Node, graph: Graph): boolean {
  if (node.domain !== "" || node.op !== "Concat" || node.inputs.length !== 2) return false;
  const past = node.inputs[0]!;
  const type = graph.types.get(past);
  if (!graph.inputs.includes(past) || !graph.outputs.includes(node.outputs[0]!) || graph.outputs.includes(past)) return false;
  const readers = graph.nodes.filter((n) => n.inputs.includes(past));
  if (readers.some((n) => n !== node && !(n.domain === "" && (n.op === "Shape" || n.op === "Size")))) return false;
  if (node.inputs[1] === past) return false;
  if (!type?.shape || type.shape.length !== 4 || !isFloat(type.dtype)) return false;
  const axis = attrInt(node.attrs, "axis") ?? 0;
  return axis === 2 || axis === -2;
}

export function markKvCache(module: Module): Module {
  const marked = mapGraphs(module, markGraphKvCache);
  if (marked === module) return module;
  const opsets = module.opsets[COMPOSITE_DOMAIN] === undefined ? { ...module.opsets, [COMPOSITE_DOMAIN]: 1 } : module.opsets;
  return { ...marked, opsets };
}

function markGraphKvCache(graph: Graph): Graph {
  let found = false;
  const rewritten = rewriteGraph(graph, (node) => {
    if (!isCacheConcat(node, graph)) return KEEP;
    found = true;
    return { kind: "nodes", nodes: [{ ...node, op: "CacheAppend", domain: COMPOSITE_DOMAIN, attrs: {} }] };
  });
  return found ? rewritten : graph;
}

registerPass({
  name: "mark-kv-cache",
  summary: "turn the Concat of a KV cache input and the new keys or values into a cache output into tierflow.CacheAppend",
  run: markKvCache,
});
