// Lower a graph-level module to the dataflow level for one phase, batch and
// sequence length: one kernel per graph node (composites stay whole), every dim
// bound, FLOPs and bytes counted, tiles and on-chip buffers sized.

import type { Graph, Module, Node, TensorType } from "../../ir/graph/graph.js";
import { mainGraph, opKey } from "../../ir/graph/graph.js";
import { opOf } from "../../ir/graph/ops.js";
import type { DType } from "../../ir/dtype.js";
import { byteSize, isFloat, isSubByte } from "../../ir/dtype.js";
import { fail, withLocation } from "../../ir/diagnostics.js";
import { evaluateDim } from "../../ir/symbolic.js";
import type { DataflowModule, DfKernel, DfStream, DfTensor, TensorRole } from "../../ir/dataflow/dataflow.js";
import { TILE_COLUMNS, chooseStream } from "../../ir/dataflow/streaming.js";
import { kindOfOp, KERNEL_KINDS } from "../../ir/dataflow/kinds.js";
import { concreteShape } from "./bind.js";
import type { LowerContext, LowerOptions } from "./tiles.js";
import { TILE_ROWS, rowsOf, sharedParts, streamOperand, tileKernel } from "./tiles.js";
import { lowerAttention } from "./attention.js";
import { lowerCacheAppend } from "./cache-append.js";
import { recordOf } from "../../ir/name-record.js";

export { TILE_COLUMNS, WEIGHT_BLOCK_BYTES, WEIGHT_BLOCK_COLUMNS, weightBlockColumns } from "../../ir/dataflow/streaming.js";
export { TILE_ROWS, rowsOf, streamOperand, tileKernel } from "./tiles.js";
export type { LowerContext, LowerOptions } from "./tiles.js";
const SHAPE_ARITHMETIC_ELEMENTS = 64;

function planDType(dtype: DType, options: LowerOptions): DType {
  return isFloat(dtype) && options.dtype ? options.dtype : dtype;
}

/** The graph's own KV caches: the past inputs and present outputs of its CacheAppend nodes. */
export function graphCaches(graph: Graph): { pasts: Set<string>; presents: Set<string> } {
  const appends = graph.nodes.filter((n) => n.domain === "tierflow" && n.op === "CacheAppend");
  return { pasts: new Set(appends.map((n) => n.inputs[0]!)), presents: new Set(appends.map((n) => n.outputs[0]!)) };
}

function roleOf(name: string, graph: Graph, caches: ReturnType<typeof graphCaches>): TensorRole {
  if (caches.pasts.has(name) || caches.presents.has(name)) return "kv-cache";
  if (graph.inputs.includes(name)) return "input";
  if (graph.outputs.includes(name)) return "output";
  const c = graph.constants.get(name);
  if (c) return c.kind === "weight" ? "weight" : "constant";
  return "activation";
}

function isShapeArithmetic(node: Node, graph: Graph): boolean {
  return node.outputs.every((o) => {
    const t = graph.types.get(o);
    if (!t?.shape || isFloat(t.dtype)) return false;
    const n = t.shape.reduce<number>((p, d) => (typeof d === "number" ? p * d : Infinity), 1);
    return n <= SHAPE_ARITHMETIC_ELEMENTS;
  });
}

function nodeFlops(node: Node, ctx: LowerContext, types: readonly (TensorType | undefined)[], outTypes: TensorType[]): number {
  const def = opOf(node);
  if (!def.cost) return 0;
  const f = def.cost(types, outTypes, node.attrs).flops;
  const v = evaluateDim(f, ctx.options.bindings.values);
  if (v === undefined) fail(`FLOPs of ${node.op} depend on an unbound dim (${f})`, { node: node.name });
  return v;
}

/** The generic lowering: one kernel for one graph node. */
export function lowerNode(node: Node, ctx: LowerContext): void {
  const key = opKey(node.domain, node.op);
  const kind = isShapeArithmetic(node, ctx.graph) ? KERNEL_KINDS.host! : kindOfOp(key);
  if (!kind) {
    const def = opOf(node);
    // expand-ops rewrites every op outside tierflow's domain that has an expansion or a decomposition.
    const expands = node.domain !== "tierflow" && (def.expand !== undefined || def.decompose !== undefined);
    fail(`op ${key} has no lowering to the dataflow level${expands ? " (the expand-ops pass rewrites it into ops that have one: keep it in --passes)" : ""}`, { node: node.name });
  }
  const operands = node.inputs.map((i) => (i === "" ? undefined : ctx.tensor(i)));
  const inputs = operands.filter((t): t is DfTensor => t !== undefined);
  const outputs = node.outputs.filter((o) => o !== "").map((o) => ctx.tensor(o));
  const concrete = (t: DfTensor): TensorType => ({ dtype: t.dtype, shape: t.shape });
  const flops = kind.device
    ? nodeFlops(node, ctx, node.inputs.map((i) => (i === "" ? undefined : concrete(ctx.tensor(i)))), outputs.map(concrete))
    : 0;
  const reads = new Map<string, number>();
  if (kind.device) for (const t of inputs) reads.set(t.name, (reads.get(t.name) ?? 0) + t.bytes);
  // A row gather (an embedding lookup) reads the rows it returns, not the whole table.
  if (key === "Gather" && inputs[0] && outputs[0]) reads.set(inputs[0].name, Math.min(inputs[0].bytes, outputs[0].bytes));
  const literal = (name: string) => {
    const c = ctx.graph.constants.get(name);
    return c?.kind === "literal" ? c.tensor : undefined;
  };
  const packed = [...operands, ...outputs].some((t) => t !== undefined && isSubByte(t.dtype));
  const streaming = kind.device ? chooseStream(node, operands.map((t) => t?.shape), outputs.map((t) => t.shape), literal, packed) : "none";
  const tiled = tileKernel(streaming, operands, outputs, { budget: ctx.options.kernelBufferBudget, op: key });
  ctx.kernels.push({
    name: ctx.nextKernelName(), kind: kind.name, nodes: [node.name], ops: ctx.shared.ops.intern([key]),
    inputs: inputs.map((t) => t.name), outputs: outputs.map((t) => t.name),
    dtype: outputs[0]?.dtype ?? "f32", flops, reads: recordOf(reads),
    streaming: tiled.streaming, tiling: ctx.shared.tilings.intern(tiled.tiling), bufferBytes: tiled.bufferBytes,
  });
}

/** Producer -> consumer streams between device kernels, through views. */
export function deriveStreams(kernels: readonly DfKernel[], tensors: ReadonlyMap<string, DfTensor>): DfStream[] {
  const producer = new Map<string, DfKernel>();
  for (const k of kernels) for (const o of k.outputs) producer.set(o, k);
  const alias = new Map<string, string>();
  for (const k of kernels) if (k.kind === "view" && k.inputs[0]) for (const o of k.outputs) alias.set(o, k.inputs[0]);
  const source = (t: string): string => (alias.has(t) ? source(alias.get(t)!) : t);
  const streams: DfStream[] = [];
  for (const k of kernels) {
    if (!KERNEL_KINDS[k.kind]!.device) continue;
    for (const input of new Set(k.inputs)) {
      const from = producer.get(source(input));
      if (!from || !KERNEL_KINDS[from.kind]!.device) continue;
      const t = tensors.get(input)!;
      const tiles = Math.max(1, k.tiling.tiles);
      streams.push({ tensor: input, from: from.name, to: k.name, tileBytes: Math.ceil(t.bytes / tiles), tiles });
    }
  }
  return streams;
}

export function lowerToDataflow(module: Module, options: LowerOptions): DataflowModule {
  const graph = mainGraph(module);
  const tensors = new Map<string, DfTensor>();
  const kernels: DfKernel[] = [];
  const caches = graphCaches(graph);
  const shared = sharedParts();
  let counter = 0;
  const ctx: LowerContext = {
    graph, options, tensors, kernels, shared,
    tensor(name) {
      let t = tensors.get(name);
      if (t) return t;
      const type = graph.types.get(name);
      if (!type?.shape) fail(`value '${name}' has no known shape`);
      const shape = concreteShape(type.shape, options.bindings, name);
      const dtype = planDType(type.dtype, options);
      // A cache's past has no storage of its own: its tokens are the front of the present.
      const bytes = caches.pasts.has(name) ? 0 : byteSize(dtype, shape.reduce((p, d) => p * d, 1));
      t = { name, dtype, shape: shared.shapes.intern(shape), bytes, role: roleOf(name, graph, caches) };
      tensors.set(name, t);
      return t;
    },
    addTensor(t) {
      if (tensors.has(t.name)) fail(`tensor '${t.name}' is defined twice`);
      tensors.set(t.name, t);
    },
    nextKernelName: () => `k${counter++}`,
  };
  for (const name of graph.inputs) ctx.tensor(name);
  for (const node of graph.nodes) {
    withLocation({ node: node.name }, () => {
      if (node.domain === "tierflow" && node.op === "Attention") lowerAttention(node, ctx, options.unfused ?? false);
      else if (node.domain === "tierflow" && node.op === "CacheAppend") lowerCacheAppend(node, ctx);
      else lowerNode(node, ctx);
    });
  }
  for (const name of graph.outputs) ctx.tensor(name);
  const used = new Set<string>([...graph.inputs, ...graph.outputs]);
  for (const k of kernels) {
    for (const v of k.inputs) used.add(v);
    for (const v of k.outputs) used.add(v);
  }
  const kept: DfTensor[] = [];
  for (const t of tensors.values()) if (used.has(t.name)) kept.push(t);
  return {
    name: module.name, source: module.source, phase: options.phase,
    bindings: Object.fromEntries([...options.bindings.values].sort(([a], [b]) => (a < b ? -1 : 1))),
    dtype: options.dtype ?? "f32",
    // A cache's past is no input the host moves in: the cache holds it (cachesOf).
    inputs: graph.inputs.filter((name) => !caches.pasts.has(name)), outputs: graph.outputs,
    tensors: kept, kernels, streams: deriveStreams(kernels, tensors),
  };
}
