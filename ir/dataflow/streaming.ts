// How a kernel streams through its on-chip stage buffer: the one description
// that the lowering sizes buffers by, the plan's legality check proves, and the
// runtime executes (targets/runtime/tiled.ts).
//
// A tile is a block of rows of the output, where a row is the last axis and the
// leading axes are flattened; `tileShape` is [rows, columns] and a row longer
// than the tile's columns streams in column pieces where the op allows.
// Every step of a kernel stages its operands' tile in one half of the stage
// buffer while the next streams into the other (double buffering), except a
// kernel that runs whole-tensor, whose buffer holds its activations and
// results at once (weights and constants stream from their tier as read).
//
//   columns   pointwise ops: each output element from the same element of each
//             (broadcast) input; rows split into column pieces
//   rows      ops over whole last-axis rows (softmax, norms, last-axis reductions,
//             ArgMax/ArgMin keeping the axis, CumSum)
//   matmul    matrix products by rows of A, with B in blocks of output columns
//   gather    a row gather on axis 0 (embedding lookups): index rows stream
//   map       data movement (transpose, slice, concat, split, expand, tile, other
//             gathers): each output element is one input element, fetched by
//             address; a tile stages the elements it gathers and its result
//   attention fused attention: per (batch, head), tiles of query rows with that
//             head's keys, values and mask rows
//   images    ops that treat each entry of the batch (axis 0) alone (convolutions,
//             pools, batch norm): one entry a step, its activations and results
//   append    a KV cache append: tiles of the new tokens' rows, each written into
//             the cache in its tier after the tokens it holds (the cache is not staged)
//   whole     anything else, in one step
//   link      collectives between sockets (node-level plans), on the links
//   none      views and host work: no device work

import type { Attrs } from "../graph/graph.js";
import { opKey } from "../graph/graph.js";
import type { Tensor } from "../tensor.js";
import { valuesAsNumbers } from "../tensor.js";
import { ELEMENTWISE_OPS } from "../graph/ops/elementwise.js";
import { ACTIVATION_OPS } from "../graph/ops/activation.js";
import type { StreamKind } from "./dataflow.js";

export type { StreamKind } from "./dataflow.js";

/** Longest row a tile holds; longer rows (a vocabulary-wide logit row) stream in pieces. */
export const TILE_COLUMNS = 4096;
/** Columns of a weight block a matrix-product stage holds on chip, at most. */
export const WEIGHT_BLOCK_COLUMNS = 128;
/** Bytes of a double-buffered weight block, at most: deep weights get narrower blocks. */
export const WEIGHT_BLOCK_BYTES = 128 * 1024;

/** Ops whose every output element depends only on the same element of each (broadcast) input. */
const POINTWISE = new Set([
  ...[...ELEMENTWISE_OPS, ...ACTIVATION_OPS].map((d) => opKey(d.domain, d.op)),
  "Cast", "CastLike", "Identity", "tierflow.SiLU", "tierflow.SwiGLU",
]);
/** Ops that work on whole rows of the last axis and nothing across rows. */
const LAST_AXIS = new Set(["Softmax", "LogSoftmax", "LayerNormalization", "tierflow.RMSNorm", "tierflow.Rotary"]);
const REDUCE = new Set(["ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd"]);
const MATMUL = new Set(["MatMul", "Gemm", "tierflow.MatMulBias"]);
/** Ops whose every output entry along axis 0 depends only on the same entry of their activations. */
const PER_IMAGE = new Set(["Conv", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "BatchNormalization", "InstanceNormalization"]);
/** Data movement, and which inputs' elements it moves (the rest are its parameters: bounds, shapes, indices). */
export const MOVED_INPUTS: Readonly<Record<string, "first" | "all">> = {
  Transpose: "first", Slice: "first", Concat: "all", Split: "first", Expand: "first", Tile: "first", Gather: "first",
  DepthToSpace: "first", SpaceToDepth: "first",
};

export function product(dims: readonly number[]): number {
  return dims.reduce((p, d) => p * d, 1);
}

export const lastOf = (shape: readonly number[]): number => (shape.length === 0 ? 1 : shape[shape.length - 1]!);

/** Output row -> input row, for an input whose leading axes broadcast to the output's. */
export interface RowMap {
  /** The input has one row for all output rows. */
  readonly whole: boolean;
  readonly identity: boolean;
  index(row: number): number;
}

/** Map rows of an output with leading axes `out` to rows of an input with leading axes `input`; undefined when they do not broadcast. */
export function rowMapping(input: readonly number[], out: readonly number[]): RowMap | undefined {
  return mapRows(input, input.length, out, out.length);
}

/** rowMapping of the leading axes of whole shapes (all but the last axis), without copying them. */
export function leadingRowMapping(input: readonly number[], out: readonly number[]): RowMap | undefined {
  return mapRows(input, Math.max(0, input.length - 1), out, Math.max(0, out.length - 1));
}

const WHOLE: RowMap = { whole: true, identity: false, index: () => 0 };
const IDENTITY: RowMap = { whole: false, identity: true, index: (r) => r };

/**
 * rowMapping over the first `inputRank` axes of `input` and `outRank` of `out`. Every
 * kernel's every step asks, so the common answers (whole, identity) copy nothing.
 */
function mapRows(input: readonly number[], inputRank: number, out: readonly number[], outRank: number): RowMap | undefined {
  // The input's extra leading 1s drop; then it aligns with the output's last axes, padded with 1s in front.
  let skip = 0;
  while (inputRank - skip > outRank && input[skip] === 1) skip++;
  if (inputRank - skip > outRank) return undefined;
  const pad = outRank - (inputRank - skip);
  const dimAt = (j: number): number => (j < pad ? 1 : input[skip + j - pad]!);
  let whole = true, identity = true;
  for (let j = 0; j < outRank; j++) {
    const d = dimAt(j);
    if (d !== 1 && d !== out[j]) return undefined;
    if (d !== 1) whole = false;
    if (d !== out[j]) identity = false;
  }
  if (whole) return WHOLE;
  if (identity) return IDENTITY;
  const dims = Array.from({ length: outRank }, (_, j) => dimAt(j)), outDims = out.slice(0, outRank);
  const strides = dims.map((_, j) => (dims[j] === 1 ? 0 : product(dims.slice(j + 1))));
  return {
    whole: false, identity: false,
    index(row) {
      let rest = row, at = 0;
      for (let j = outDims.length - 1; j >= 0; j--) {
        at += (rest % outDims[j]!) * strides[j]!;
        rest = Math.floor(rest / outDims[j]!);
      }
      return at;
    },
  };
}

/** Distinct input rows that output rows [r0, r0 + n) read through `map`. */
export function distinctRows(map: RowMap, r0: number, n: number): number {
  if (map.whole) return 1;
  if (map.identity) return n;
  const seen = new Set<number>();
  for (let i = 0; i < n; i++) seen.add(map.index(r0 + i));
  return seen.size;
}

function attrInt(attrs: Attrs, name: string, fallback: number): number {
  const a = attrs[name];
  return a && a.type === "int" ? a.value : fallback;
}

const normalizedAxis = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);

/** Reduce* keeps rows separate when it reduces only the last axis and keeps it. */
function reducesLastAxis(node: StreamNode, rank: number, literal: (name: string) => Tensor | undefined): boolean {
  if (attrInt(node.attrs, "keepdims", 1) !== 1) return false;
  const fromAttr = node.attrs.axes;
  const fromInput = node.inputs[1] ? literal(node.inputs[1]) : undefined;
  const axes = fromAttr?.type === "ints" ? fromAttr.value : fromInput ? valuesAsNumbers(fromInput) : undefined;
  return axes !== undefined && axes.length === 1 && normalizedAxis(axes[0]!, rank) === rank - 1;
}

/** What the choice needs of a graph node. */
export interface StreamNode {
  readonly op: string;
  readonly domain: string;
  readonly attrs: Attrs;
  readonly inputs: readonly string[];
}

/**
 * How a device kernel for `node` streams, given its bound shapes (undefined for
 * an omitted optional input), a lookup of the graph's literals, and whether an
 * operand or result is stored in half bytes (`packed`).
 */
export function chooseStream(node: StreamNode, inputs: readonly (readonly number[] | undefined)[], outputs: readonly (readonly number[])[],
  literal: (name: string) => Tensor | undefined, packed = false): StreamKind {
  const key = opKey(node.domain, node.op);
  if (key === "tierflow.Attention") return "attention";
  if (key === "tierflow.CacheAppend") return "append";
  // Half-byte elements (int4) have no byte address of their own, so rows and tiles of them cannot be
  // staged: such kernels run whole, except the quantized products, which stage their weight blocks repacked.
  if (packed && key !== "com.microsoft.MatMulNBits" && key !== "tierflow.DequantMatMul") return "whole";
  const out = outputs[0];
  const mover = MOVED_INPUTS[key];
  if (mover && node.domain === "" && outputs.length >= 1 && outputs.every((o) => o.length >= 1) && !(key === "Gather" && gathersRows(node, inputs))) {
    return "map";
  }
  if (!out || outputs.length !== 1 || out.length < 2) return "whole";
  const rank = out.length;
  const present = inputs.filter((s): s is readonly number[] => s !== undefined);
  const rowsMap = (s: readonly number[]) => leadingRowMapping(s, out);
  if (POINTWISE.has(key)) {
    const ok = present.every((s) => rowsMap(s) !== undefined && (lastOf(s) === 1 || lastOf(s) === lastOf(out)) && s.length <= rank);
    return ok ? "columns" : "whole";
  }
  const x = present[0];
  let lastAxis = LAST_AXIS.has(key) || (REDUCE.has(key) && x !== undefined && reducesLastAxis(node, x.length, literal));
  if (key === "Softmax" || key === "LogSoftmax" || key === "LayerNormalization") {
    lastAxis = x !== undefined && normalizedAxis(attrInt(node.attrs, "axis", -1), x.length) === x.length - 1;
  }
  // An index of each row's largest (smallest) element, kept as [.., 1]; a running sum along each row.
  if (key === "ArgMax" || key === "ArgMin") {
    lastAxis = x !== undefined && attrInt(node.attrs, "keepdims", 1) === 1 && normalizedAxis(attrInt(node.attrs, "axis", 0), x.length) === x.length - 1;
  }
  if (key === "CumSum") {
    const axis = node.inputs[1] ? literal(node.inputs[1]) : undefined;
    lastAxis = x !== undefined && axis !== undefined && axis.data.length === 1 && normalizedAxis(valuesAsNumbers(axis)[0]!, x.length) === x.length - 1;
  }
  if (lastAxis) return x !== undefined && x.length === rank && present.every((s) => rowsMap(s) !== undefined) ? "rows" : "whole";
  if (key === "com.microsoft.MatMulNBits" || key === "tierflow.DequantMatMul") {
    // Products over quantized weights stream like MatMul; a weight blocked along its columns cannot be cut into column blocks.
    const a = inputs[0], w = inputs[1], bias = key === "com.microsoft.MatMulNBits" ? inputs[5] : undefined;
    const byColumns = key === "com.microsoft.MatMulNBits"
      || (w?.length === 2 && !(attrInt(node.attrs, "block_size", 0) > 0 && normalizedAxis(attrInt(node.attrs, "axis", 1), 2) === 1));
    const biasOk = !bias || (bias.length === 1 && lastOf(bias) === lastOf(out));
    return a && a.length >= 2 && rowsMap(a) && byColumns && biasOk ? "matmul" : "whole";
  }
  if (MATMUL.has(key)) {
    const [a, b] = inputs;
    if (!a || !b || a.length < 2 || b.length < 2) return "whole";
    if (key === "Gemm" && attrInt(node.attrs, "transA", 0) !== 0) return "whole";
    const bias = inputs[2];
    const biasOk = !bias || (rowsMap(bias) !== undefined && (lastOf(bias) === 1 || lastOf(bias) === lastOf(out)));
    const batchOk = rowMapping(b.slice(0, -2), out.slice(0, -2)) !== undefined;
    return rowsMap(a) && biasOk && batchOk ? "matmul" : "whole";
  }
  if (key === "Gather") return gathersRows(node, inputs) ? "gather" : "whole";
  if (PER_IMAGE.has(key) && node.domain === "" && x !== undefined && x.length >= 3 && x[0] === out[0]) return "images";
  return "whole";
}

/** Gather on axis 0 of a table of rank >= 2: whole rows per index (an embedding lookup). */
function gathersRows(node: StreamNode, inputs: readonly (readonly number[] | undefined)[]): boolean {
  const [data, indices] = inputs;
  return data !== undefined && indices !== undefined && data.length >= 2 && normalizedAxis(attrInt(node.attrs, "axis", 0), data.length) === 0;
}

/** Output columns of one block of a matrix product's right operand (K x columns, double-buffered). */
export function weightBlockColumns(k: number, n: number, elementBytes: number): number {
  return Math.max(1, Math.min(n, WEIGHT_BLOCK_COLUMNS, Math.floor(WEIGHT_BLOCK_BYTES / (2 * k * elementBytes))));
}
