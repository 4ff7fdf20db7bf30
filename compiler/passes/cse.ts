// cse: common subexpression elimination. Two nodes with the same op,
// attributes and inputs compute the same values; later ones forward to the
// first. Equal small literal constants are merged first so that the
// expressions over them match too.

import type { Attrs, Constant, Graph, Module } from "../../ir/graph/graph.js";
import { mapGraphs } from "../../ir/graph/graph.js";
import { KEEP, forwardable, pruneTypes, rewriteGraph } from "./rewrite.js";
import { registerPass } from "./pass.js";

function attrsKey(attrs: Attrs): string {
  return Object.keys(attrs).sort().map((k) => {
    const a = attrs[k]!;
    const v = a.type === "tensor" ? `${a.value.dtype}[${a.value.dims.join(",")}]:${Array.from(a.value.data as ArrayLike<unknown>).join(",")}` : JSON.stringify(a.value);
    return `${k}=${a.type}:${v}`;
  }).join(";");
}

function literalKey(c: Constant): string | undefined {
  if (c.kind !== "literal" || c.tensor.data.length > 64) return undefined;
  return `${c.tensor.dtype}[${c.tensor.dims.join(",")}]:${Array.from(c.tensor.data as ArrayLike<unknown>, (v) => (Object.is(v, -0) ? "-0" : String(v))).join(",")}`;
}

export function eliminateCommonSubexpressions(module: Module): Module {
  return mapGraphs(module, cseGraph);
}

function cseGraph(graph: Graph): Graph {
  const canonicalConstant = new Map<string, string>();
  const constantAlias = new Map<string, string>();
  for (const [name, c] of graph.constants) {
    const key = literalKey(c);
    if (key === undefined || graph.outputs.includes(name)) continue;
    const first = canonicalConstant.get(key);
    if (first === undefined) canonicalConstant.set(key, name);
    else constantAlias.set(name, first);
  }
  const seen = new Map<string, readonly string[]>();
  const rewritten = rewriteGraph(graph, (original) => {
    const node = { ...original, inputs: original.inputs.map((i) => constantAlias.get(i) ?? i) };
    const key = `${node.domain}.${node.op}(${node.inputs.join(",")}){${attrsKey(node.attrs)}}#${node.outputs.length}`;
    const earlier = seen.get(key);
    // An output the earlier node omits ("") cannot stand in for one this node writes.
    const covered = earlier !== undefined && node.outputs.every((o, i) => o === "" || earlier[i] !== "");
    if (earlier === undefined || !covered || !forwardable(node, graph)) {
      if (earlier === undefined) seen.set(key, node.outputs);
      return node.inputs.some((v, i) => v !== original.inputs[i]) ? { kind: "nodes", nodes: [node] } : KEEP;
    }
    return { kind: "forward", to: new Map(node.outputs.map((o, i) => [o, earlier[i]!] as [string, string]).filter(([o]) => o !== "")) };
  });
  const constants = new Map(rewritten.constants);
  for (const name of constantAlias.keys()) constants.delete(name);
  return pruneTypes({ ...rewritten, constants });
}

registerPass({ name: "cse", summary: "merge nodes and small constants that compute the same values", run: eliminateCommonSubexpressions });
