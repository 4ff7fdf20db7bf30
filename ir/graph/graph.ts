// The graph level of tierflow's IR: a module of graphs whose nodes carry ONNX
// semantics. Values are SSA, named by string, and typed in `graph.types`.
// IR objects are immutable: passes build new graphs (see compiler/passes/rewrite.ts).

import type { DType } from "../dtype.js";
import type { Dim } from "../symbolic.js";
import type { Tensor } from "../tensor.js";

/** A tensor type; `shape` null means the rank is not known yet. */
export interface TensorType {
  readonly dtype: DType;
  readonly shape: readonly Dim[] | null;
}

/** A node attribute's value, tagged with its ONNX attribute type. */
export type Attr =
  | { readonly type: "int"; readonly value: number }
  | { readonly type: "float"; readonly value: number }
  | { readonly type: "string"; readonly value: string }
  | { readonly type: "ints"; readonly value: readonly number[] }
  | { readonly type: "floats"; readonly value: readonly number[] }
  | { readonly type: "strings"; readonly value: readonly string[] }
  | { readonly type: "tensor"; readonly value: Tensor };

export type AttrType = Attr["type"];
export type Attrs = Readonly<Record<string, Attr>>;

/** One operation of a graph: an op of the op table applied to named values. */
export interface Node {
  /** The op type, as in ONNX ("MatMul", "Softmax") or a tierflow composite op. */
  readonly op: string;
  /** "" is the default ONNX domain (ai.onnx). */
  readonly domain: string;
  /** Value names; "" marks an omitted optional input. */
  readonly inputs: readonly string[];
  /** Value names this node defines. */
  readonly outputs: readonly string[];
  readonly attrs: Attrs;
  /** The node's name in the source model, kept for diagnostics. */
  readonly name: string;
}

/**
 * Weight bytes that stay on disk until needed: `file` is relative to the
 * folder of the model file, `offset`/`length` in bytes.
 */
export interface WeightRef {
  readonly file: string;
  readonly offset: number;
  readonly length: number;
}

/**
 * A constant value of a graph: a tensor held in memory, or a weight left on disk
 * (read when a kernel needs it, see {@link WeightRef}).
 */
export type Constant =
  | { readonly kind: "literal"; readonly tensor: Tensor }
  | { readonly kind: "weight"; readonly ref: WeightRef; readonly dims: readonly number[]; readonly dtype: DType };

/** A graph of the graph-level IR: SSA values named by string, nodes in topological order. */
export interface Graph {
  readonly name: string;
  /** The graph's input value names, in order (constants are not among them). */
  readonly inputs: readonly string[];
  /** The graph's output value names, in order. */
  readonly outputs: readonly string[];
  /** Initializers and constant nodes, in a stable order. */
  readonly constants: ReadonlyMap<string, Constant>;
  /** In topological order: every input is defined before its use. */
  readonly nodes: readonly Node[];
  /** Known types; after shape inference every value has one. */
  readonly types: ReadonlyMap<string, TensorType>;
}

/**
 * A model at the graph level of tierflow's IR, as {@link importOnnxFile}, {@link loadModel}
 * and {@link readModule} return it; immutable (passes build new modules). The first graph is
 * the main one.
 */
export interface Module {
  readonly name: string;
  /** Model file this module was imported from (name only: resolution is the caller's). */
  readonly source: string;
  readonly irVersion: number;
  readonly producer: string;
  /** domain -> opset version; "" is ai.onnx. */
  readonly opsets: Readonly<Record<string, number>>;
  readonly graphs: readonly Graph[];
}

export function mainGraph(module: Module): Graph {
  const g = module.graphs[0];
  if (!g) throw new Error("module has no graph");
  return g;
}

export function withGraph(module: Module, index: number, graph: Graph): Module {
  const graphs = module.graphs.slice();
  graphs[index] = graph;
  return { ...module, graphs };
}

/**
 * The module with `f` applied to each of its graphs; the module itself when `f` returns
 * every graph unchanged. A module's graphs are independent: none refers to another (the
 * importer inlines functions and refuses control flow; the text names no graph in a node),
 * so a graph pass rewrites each on its own and keeps each one's inputs and outputs.
 */
export function mapGraphs(module: Module, f: (graph: Graph, index: number) => Graph): Module {
  const graphs = module.graphs.map(f);
  return graphs.every((g, i) => g === module.graphs[i]) ? module : { ...module, graphs };
}

/** Map from value name to the nodes that read it (graph outputs are not nodes). */
export function usersOf(graph: Graph): Map<string, Node[]> {
  const users = new Map<string, Node[]>();
  for (const node of graph.nodes) {
    for (const input of node.inputs) {
      if (input === "") continue;
      let list = users.get(input);
      if (!list) users.set(input, (list = []));
      // Nodes come in order, so a node reading the value twice is the list's last one.
      if (list[list.length - 1] !== node) list.push(node);
    }
  }
  return users;
}

/** Map from value name to the node that defines it. */
export function producersOf(graph: Graph): Map<string, Node> {
  const producers = new Map<string, Node>();
  for (const node of graph.nodes) for (const out of node.outputs) if (out !== "") producers.set(out, node);
  return producers;
}

export function opKey(domain: string, op: string): string {
  return domain === "" || domain === "ai.onnx" ? op : `${domain}.${op}`;
}

export function attrInt(attrs: Attrs, name: string): number | undefined {
  const a = attrs[name];
  return a?.type === "int" ? a.value : undefined;
}

export function attrFloat(attrs: Attrs, name: string): number | undefined {
  const a = attrs[name];
  return a?.type === "float" ? a.value : a?.type === "int" ? a.value : undefined;
}

export function attrInts(attrs: Attrs, name: string): readonly number[] | undefined {
  const a = attrs[name];
  return a?.type === "ints" ? a.value : undefined;
}

export function attrString(attrs: Attrs, name: string): string | undefined {
  const a = attrs[name];
  return a?.type === "string" ? a.value : undefined;
}

export function attrTensor(attrs: Attrs, name: string): Tensor | undefined {
  const a = attrs[name];
  return a?.type === "tensor" ? a.value : undefined;
}
