// The rewrite driver: passes describe what to do with each node (keep it,
// replace it by other nodes or constants, or forward its outputs to existing
// values) and the driver builds the new graph. Graphs are never mutated.

import type { Constant, Graph, Node, TensorType } from "../../ir/graph/graph.js";

export type Rewrite =
  | { readonly kind: "keep" }
  /** Replace by these nodes (in order); they may define the old outputs. */
  | { readonly kind: "nodes"; readonly nodes: readonly Node[] }
  /** Each old output becomes a new constant of the same name. */
  | { readonly kind: "constants"; readonly values: ReadonlyMap<string, Constant> }
  /** Each old output is an alias of an existing value: uses are renamed. */
  | { readonly kind: "forward"; readonly to: ReadonlyMap<string, string> };

export const KEEP: Rewrite = { kind: "keep" };

export interface RewriteView {
  /** Resolve a value name through the aliases created so far. */
  resolve(name: string): string;
  /** Constants of the graph being built (originals and folded ones). */
  readonly constants: ReadonlyMap<string, Constant>;
}

/**
 * Rebuild `graph`, asking `visit` what to do with each node in order. Inputs of
 * later nodes and graph outputs are renamed through the forwards. A graph
 * output that would be forwarded keeps its name: the driver inserts nothing and
 * the pass must not forward graph outputs (see forwardable()).
 */
export function rewriteGraph(graph: Graph, visit: (node: Node, view: RewriteView) => Rewrite): Graph {
  const alias = new Map<string, string>();
  const resolve = (name: string): string => {
    let n = name;
    for (let next = alias.get(n); next !== undefined; next = alias.get(n)) n = next;
    return n;
  };
  // Copied on the first folded constant: most rewrites fold none, and these maps are as large as the graph.
  let constants: Map<string, Constant> | undefined, types: Map<string, TensorType> | undefined;
  const nodes: Node[] = [];
  const view: RewriteView = { resolve, get constants() { return constants ?? graph.constants; } };
  for (const original of graph.nodes) {
    const node = renameInputs(original, resolve);
    const r = visit(node, view);
    switch (r.kind) {
      case "keep": nodes.push(node); break;
      case "nodes": nodes.push(...r.nodes); break;
      case "constants":
        constants ??= new Map(graph.constants);
        types ??= new Map(graph.types);
        for (const [name, c] of r.values) {
          constants.set(name, c);
          if (c.kind === "literal") types.set(name, { dtype: c.tensor.dtype, shape: [...c.tensor.dims] });
        }
        break;
      case "forward":
        for (const [from, to] of r.to) alias.set(from, resolve(to));
        break;
    }
  }
  return { ...graph, nodes, constants: constants ?? graph.constants, types: types ?? graph.types, outputs: graph.outputs.map(resolve) };
}

function renameInputs(node: Node, resolve: (n: string) => string): Node {
  let changed = false;
  const inputs = node.inputs.map((i) => {
    const r = i === "" ? i : resolve(i);
    if (r !== i) changed = true;
    return r;
  });
  return changed ? { ...node, inputs } : node;
}

/** True when every output may be renamed away (graph outputs keep their names). */
export function forwardable(node: Node, graph: Graph): boolean {
  return node.outputs.every((o) => !graph.outputs.includes(o));
}

/** Drop types of values no longer defined anywhere. */
export function pruneTypes(graph: Graph): Graph {
  const live = new Set<string>([...graph.inputs, ...graph.constants.keys()]);
  for (const n of graph.nodes) for (const o of n.outputs) live.add(o);
  let dead = false;
  for (const name of graph.types.keys()) if (!live.has(name)) { dead = true; break; }
  if (!dead) return graph; // most passes leave every type live: no copy of a map as large as the graph
  const types = new Map<string, TensorType>();
  for (const [name, t] of graph.types) if (live.has(name)) types.set(name, t);
  return { ...graph, types };
}

/** Every value name a graph defines: its inputs, constants and node outputs. */
export function definedNames(graph: Graph): Set<string> {
  const names = new Set<string>([...graph.inputs, ...graph.constants.keys()]);
  for (const node of graph.nodes) for (const o of node.outputs) if (o !== "") names.add(o);
  return names;
}

/**
 * A replacement's nodes with the values they define renamed where `taken` already
 * has the name (two expansions of one value both writing "v/d1"), but for `own`,
 * the replaced node's outputs, which keep theirs. `taken` gains the new names.
 */
export function withFreshNames(nodes: readonly Node[], taken: Set<string>, own: readonly string[]): Node[] {
  const renamed = new Map<string, string>();
  const keep = new Set(own);
  return nodes.map((node) => {
    const inputs = node.inputs.map((i) => renamed.get(i) ?? i);
    const outputs = node.outputs.map((o) => {
      if (o === "" || keep.has(o) || !taken.has(o)) {
        if (o !== "") taken.add(o);
        return o;
      }
      let k = 1;
      while (taken.has(`${o}_${k}`)) k++;
      const fresh = `${o}_${k}`;
      renamed.set(o, fresh);
      taken.add(fresh);
      return fresh;
    });
    return { ...node, inputs, outputs };
  });
}
