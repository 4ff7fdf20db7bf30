// What `tierflow inspect` reports about a graph: interface, parameters by
// dtype, op histogram, FLOPs and bytes moved per forward pass (symbolic in the
// graph's dims, or evaluated with given values) and the largest tensors.

import type { Graph, Module, Node, TensorType } from "../../ir/graph/graph.js";
import { mainGraph, opKey } from "../../ir/graph/graph.js";
import { opOf } from "../../ir/graph/ops.js";
import { byteSize, dtypeBytes, isSubByte } from "../../ir/dtype.js";
import type { Dim } from "../../ir/symbolic.js";
import { DimSum, dimSymbols, divDimsExact, evaluateDim, mulDims, productOfDims, substituteDim } from "../../ir/symbolic.js";

export interface ValueSummary {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly Dim[] | null;
}

export interface TensorSize extends ValueSummary {
  readonly bytes: Dim;
}

/**
 * What {@link summarize} (and `tierflow inspect`) reports about a model's main graph; the
 * numbers are per forward pass, symbolic where the graph's dims are not given values.
 */
export interface ModelSummary {
  readonly name: string;
  readonly producer: string;
  readonly opsets: Readonly<Record<string, number>>;
  readonly inputs: readonly ValueSummary[];
  readonly outputs: readonly ValueSummary[];
  /** Node count of the main graph. */
  readonly nodes: number;
  /** dtype -> { count, bytes } over weights and literal constants. */
  readonly parameters: Readonly<Record<string, { count: number; bytes: number }>>;
  /** op type -> node count. */
  readonly ops: Readonly<Record<string, number>>;
  /** Floating-point operations of one forward pass. */
  readonly flops: Dim;
  /** op type -> FLOPs of all its nodes. */
  readonly flopsByOp: Readonly<Record<string, Dim>>;
  /** Bytes every node reads and writes, summed over nodes. */
  readonly bytesMoved: Dim;
  /** The largest activations and constants, biggest first. */
  readonly largest: readonly TensorSize[];
  /** Symbols the numbers above still depend on. */
  readonly dims: Readonly<Record<string, number>>;
}

export function bytesOf(t: TensorType): Dim | undefined {
  if (!t.shape) return undefined;
  const count = productOfDims(t.shape);
  if (!isSubByte(t.dtype)) return mulDims(count, dtypeBytes(t.dtype));
  // int4 packs two to a byte; a symbolic count that does not halve exactly is counted a byte each (an upper bound).
  return typeof count === "number" ? byteSize(t.dtype, count) : divDimsExact(count, 2) ?? count;
}

function sortedRecord<V>(entries: Iterable<[string, V]>): Record<string, V> {
  return Object.fromEntries([...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function bind(d: Dim, dims: ReadonlyMap<string, number>): Dim {
  return dims.size === 0 ? d : substituteDim(d, dims);
}

/** Order by size with unbound symbols counted as 1: a stable ranking even when symbolic. */
function rankValue(d: Dim): number {
  if (typeof d === "number") return d;
  return evaluateDim(d, new Map(dimSymbols(d).map((s) => [s, 1]))) ?? 0;
}

/** A node's FLOPs by its op's cost (0 where the op declares none), `dims` bound. */
export function nodeFlops(graph: Graph, node: Node, dims: ReadonlyMap<string, number> = new Map()): Dim {
  const def = opOf(node);
  if (!def.cost) return 0;
  const inTypes = node.inputs.map((i) => (i === "" ? undefined : graph.types.get(i)));
  const outTypes = node.outputs.map((o) => graph.types.get(o) ?? { dtype: "f32" as const, shape: null });
  return bind(def.cost(inTypes, outTypes, node.attrs).flops, dims);
}

/**
 * Summarise a module's main graph: interface, parameters by dtype, op histogram, FLOPs and
 * bytes moved per forward pass and the `topN` largest tensors, with the symbolic dims in
 * `dims` given values. An op tierflow does not know throws a TierflowError.
 *
 * @example
 * ```ts
 * import { loadModel, summarize } from "tierflow";
 *
 * const { module } = await loadModel("examples/models/bert-tiny.torchscript.onnx");
 * const summary = summarize(module, new Map([["batch", 8], ["sequence", 512]]));
 * console.log(summary.flops, summary.parameters);
 * ```
 */
export function summarize(module: Module, dims: ReadonlyMap<string, number> = new Map(), topN = 10): ModelSummary {
  const graph: Graph = mainGraph(module);
  const typeOf = (name: string): ValueSummary => {
    const t = graph.types.get(name);
    return { name, dtype: t?.dtype ?? "?", shape: t?.shape ? t.shape.map((d) => bind(d, dims)) : null };
  };
  const parameters = new Map<string, { count: number; bytes: number }>();
  for (const c of graph.constants.values()) {
    const dtype = c.kind === "literal" ? c.tensor.dtype : c.dtype;
    const count = c.kind === "literal" ? c.tensor.data.length : c.dims.reduce((p, d) => p * d, 1);
    const entry = parameters.get(dtype) ?? { count: 0, bytes: 0 };
    parameters.set(dtype, { count: entry.count + count, bytes: entry.bytes + byteSize(dtype, count) });
  }
  const ops = new Map<string, number>();
  const flops = new DimSum();
  const flopsByOp = new Map<string, DimSum>();
  const bytesMoved = new DimSum();
  const sizeOf = (name: string): Dim => {
    const t = graph.types.get(name);
    return t ? bytesOf(t) ?? 0 : 0;
  };
  for (const node of graph.nodes) {
    const key = opKey(node.domain, node.op);
    ops.set(key, (ops.get(key) ?? 0) + 1);
    if (opOf(node).cost) {
      const f = nodeFlops(graph, node);
      flops.add(f);
      let perOp = flopsByOp.get(key);
      if (!perOp) flopsByOp.set(key, (perOp = new DimSum()));
      perOp.add(f);
    }
    for (const v of [...node.inputs, ...node.outputs]) if (v !== "") bytesMoved.add(sizeOf(v));
  }
  const activations: TensorSize[] = [];
  for (const node of graph.nodes) {
    for (const out of node.outputs) {
      const t = graph.types.get(out);
      const b = t && bytesOf(t);
      if (b !== undefined) activations.push({ ...typeOf(out), bytes: bind(b, dims) });
    }
  }
  for (const name of graph.constants.keys()) {
    const t = graph.types.get(name);
    const b = t && bytesOf(t);
    if (b !== undefined) activations.push({ ...typeOf(name), bytes: b });
  }
  const largest = activations
    .map((a, i) => ({ a, i, r: rankValue(a.bytes) }))
    .sort((x, y) => y.r - x.r || x.i - y.i)
    .slice(0, topN)
    .map((x) => x.a);
  return {
    name: module.name,
    producer: module.producer,
    opsets: module.opsets,
    inputs: graph.inputs.map(typeOf),
    outputs: graph.outputs.map(typeOf),
    nodes: graph.nodes.length,
    parameters: sortedRecord(parameters),
    ops: sortedRecord(ops),
    flops: bind(flops.value, dims),
    flopsByOp: sortedRecord([...flopsByOp].map(([op, f]) => [op, bind(f.value, dims)] as [string, Dim])),
    bytesMoved: bind(bytesMoved.value, dims),
    largest,
    dims: sortedRecord(dims),
  };
}
