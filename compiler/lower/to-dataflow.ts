// Lower a graph-level module to the dataflow level for one phase, batch and
// sequence length: one kernel per graph node (composites stay whole), every dim
// bound, FLOPs and bytes counted, tiles and on-chip buffers sized.

import type { Graph, Module, Node, TensorType } from "../../ir/graph/graph.js";
import { mainGraph, opKey } from "../../ir/graph/graph.js";
import { opOf } from "../../ir/graph/ops.js";
import type { DType } from "../../ir/dtype.js";
import { dtypeBytes, isFloat } from "../../ir/dtype.js";
import { fail, withLocation } from "../../ir/diagnostics.js";
import { evaluateDim } from "../../ir/symbolic.js";
import type { DataflowModule, DfKernel, DfStream, DfTensor, Phase, TensorRole } from "../../ir/dataflow/dataflow.js";
import { kindOfOp, KERNEL_KINDS } from "../../ir/dataflow/kinds.js";
import type { Bindings } from "./bind.js";
import { concreteShape } from "./bind.js";
import { lowerAttention } from "./attention.js";

/** Rows of a tile: enough to keep a pipeline stage busy, small enough for on-chip buffers. */
export const TILE_ROWS = 64;
/** Columns of a weight block a matrix-product stage holds on chip, at most. */
export const WEIGHT_BLOCK_COLUMNS = 128;
/** Bytes of a double-buffered weight block, at most: deep weights get narrower blocks. */
export const WEIGHT_BLOCK_BYTES = 128 * 1024;
/** Longest row a tile holds; longer rows (a vocabulary-wide logit row) stream in pieces. */
export const TILE_COLUMNS = 4096;
const SHAPE_ARITHMETIC_ELEMENTS = 64;

export interface LowerOptions {
  readonly phase: Phase;
  readonly bindings: Bindings;
  /** Storage and compute dtype for floating-point data (e.g. bf16 for a float32 export). */
  readonly dtype: DType | undefined;
  /** Lower composites as their separate kernels (the -O0 baseline). */
  readonly unfused?: boolean;
  /** Most on-chip buffer bytes one kernel may take (tiles shrink to fit); unbounded when absent. */
  readonly kernelBufferBudget?: number;
}

export interface LowerContext {
  readonly graph: Graph;
  readonly options: LowerOptions;
  readonly tensors: Map<string, DfTensor>;
  readonly kernels: DfKernel[];
  tensor(name: string): DfTensor;
  addTensor(t: DfTensor): void;
  nextKernelName(): string;
}

function planDType(dtype: DType, options: LowerOptions): DType {
  return isFloat(dtype) && options.dtype ? options.dtype : dtype;
}

export function rowsOf(shape: readonly number[]): { rows: number; last: number } {
  const last = shape.length === 0 ? 1 : shape[shape.length - 1]!;
  const rows = shape.slice(0, -1).reduce((p, d) => p * d, 1);
  return { rows, last };
}

/** Output columns of one block of a matrix product's right operand (K x columns, double-buffered). */
export function weightBlockColumns(k: number, n: number, elementBytes: number): number {
  return Math.max(1, Math.min(n, WEIGHT_BLOCK_COLUMNS, Math.floor(WEIGHT_BLOCK_BYTES / (2 * k * elementBytes))));
}

/** The right operand of a matrix product, streamed in K x columns blocks whatever its role. */
export interface RightOperand {
  readonly tensor: string;
  readonly k: number;
  readonly n: number;
}

export interface TileOptions {
  /** Conv-like kernels: weights and constants of rank >= 2 are held as blocks. */
  readonly weighted?: boolean;
  readonly right?: RightOperand | undefined;
  /** Most bytes one kernel's buffers may take: tiles shrink (fewer rows) to fit. */
  readonly budget?: number | undefined;
}

function bufferFor(inputs: readonly DfTensor[], outputs: readonly DfTensor[], tileRows: number, options: TileOptions): number {
  const tileOf = (t: DfTensor) => {
    const r = rowsOf(t.shape);
    return Math.min(t.bytes, tileRows * Math.min(r.last, TILE_COLUMNS) * dtypeBytes(t.dtype));
  };
  let buffer = 0;
  for (const t of [...inputs, ...outputs]) {
    const elem = dtypeBytes(t.dtype);
    if (options.right && t.name === options.right.tensor) {
      buffer += 2 * options.right.k * weightBlockColumns(options.right.k, options.right.n, elem) * elem;
    } else if (options.weighted && (t.role === "weight" || t.role === "constant") && t.shape.length >= 2) {
      const k = t.shape[t.shape.length - 2]!, n = t.shape[t.shape.length - 1]!;
      buffer += 2 * k * weightBlockColumns(k, n, elem) * elem;
    } else {
      buffer += 2 * tileOf(t);
    }
  }
  return buffer;
}

/** Tiling and buffers for a kernel that streams rows of its first output. */
export function tileKernel(inputs: readonly DfTensor[], outputs: readonly DfTensor[], options: TileOptions = {}): Pick<DfKernel, "tiling" | "bufferBytes"> {
  const out = outputs[0];
  const { rows, last } = rowsOf(out?.shape ?? []);
  let tileRows = Math.max(1, Math.min(rows, TILE_ROWS));
  let buffer = bufferFor(inputs, outputs, tileRows, options);
  while (options.budget !== undefined && buffer > options.budget && tileRows > 1) {
    tileRows = Math.ceil(tileRows / 2);
    buffer = bufferFor(inputs, outputs, tileRows, options);
  }
  const tiles = Math.max(1, Math.ceil(rows / tileRows));
  const columns = Math.min(last, TILE_COLUMNS);
  const right = options.right && inputs.find((t) => t.name === options.right!.tensor);
  const blocks = options.right && right ? Math.ceil(options.right.n / weightBlockColumns(options.right.k, options.right.n, dtypeBytes(right.dtype))) : 1;
  return { tiling: { tileShape: [tileRows, columns], tiles: tiles * Math.ceil(last / Math.max(1, columns)), blocks }, bufferBytes: buffer };
}

/** The right operand of a MatMul, Gemm or MatMulBias node (Gemm's transB stores it as [N, K]). */
function rightOperandOf(node: Node, inputs: readonly DfTensor[]): RightOperand | undefined {
  const b = inputs[1];
  if (!b || b.shape.length === 0) return undefined;
  const s = b.shape;
  if (s.length === 1) return { tensor: b.name, k: s[0]!, n: 1 };
  const [rowsB, colsB] = [s[s.length - 2]!, s[s.length - 1]!];
  const transposed = node.op === "Gemm" && node.attrs.transB?.type === "int" && node.attrs.transB.value === 1;
  return transposed ? { tensor: b.name, k: colsB, n: rowsB } : { tensor: b.name, k: rowsB, n: colsB };
}

function roleOf(name: string, graph: Graph): TensorRole {
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
  const inputs = node.inputs.filter((i) => i !== "").map((i) => ctx.tensor(i));
  const outputs = node.outputs.filter((o) => o !== "").map((o) => ctx.tensor(o));
  const concrete = (t: DfTensor): TensorType => ({ dtype: t.dtype, shape: t.shape });
  const flops = kind.device
    ? nodeFlops(node, ctx, node.inputs.map((i) => (i === "" ? undefined : concrete(ctx.tensor(i)))), outputs.map(concrete))
    : 0;
  const reads: Record<string, number> = {};
  if (kind.device) for (const t of inputs) reads[t.name] = (reads[t.name] ?? 0) + t.bytes;
  // A row gather (an embedding lookup) reads the rows it returns, not the whole table.
  if (key === "Gather" && inputs[0] && outputs[0]) reads[inputs[0].name] = Math.min(inputs[0].bytes, outputs[0].bytes);
  ctx.kernels.push({
    name: ctx.nextKernelName(), kind: kind.name, nodes: [node.name], ops: [key],
    inputs: inputs.map((t) => t.name), outputs: outputs.map((t) => t.name),
    dtype: outputs[0]?.dtype ?? "f32", flops, reads,
    ...(kind.device ? tileKernel(inputs, outputs, {
      weighted: kind.weighted, budget: ctx.options.kernelBufferBudget,
      ...(kind.name === "matmul" ? { right: rightOperandOf(node, inputs) } : {}),
    }) : { tiling: { tileShape: [], tiles: 0, blocks: 1 }, bufferBytes: 0 }),
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
  let counter = 0;
  const ctx: LowerContext = {
    graph, options, tensors, kernels,
    tensor(name) {
      let t = tensors.get(name);
      if (t) return t;
      const type = graph.types.get(name);
      if (!type?.shape) fail(`value '${name}' has no known shape`);
      const shape = concreteShape(type.shape, options.bindings, name);
      const dtype = planDType(type.dtype, options);
      const bytes = shape.reduce((p, d) => p * d, 1) * dtypeBytes(dtype);
      t = { name, dtype, shape, bytes, role: roleOf(name, graph) };
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
      else lowerNode(node, ctx);
    });
  }
  for (const name of graph.outputs) ctx.tensor(name);
  const used = new Set<string>([...graph.inputs, ...graph.outputs]);
  for (const k of kernels) for (const v of [...k.inputs, ...k.outputs]) used.add(v);
  const kept = [...tensors.values()].filter((t) => used.has(t.name));
  return {
    name: module.name, source: module.source, phase: options.phase,
    bindings: Object.fromEntries([...options.bindings.values].sort(([a], [b]) => (a < b ? -1 : 1))),
    dtype: options.dtype ?? "f32",
    inputs: graph.inputs, outputs: graph.outputs,
    tensors: kept, kernels, streams: deriveStreams(kernels, tensors),
  };
}
