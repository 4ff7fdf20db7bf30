// How a kernel is cut into tiles on the CPU, and the on-chip buffer tiles pass
// through. Row-separable ops (pointwise ops, last-axis normalisations and
// softmax, matrix products by rows of the activation, row gathers) run tile by
// tile as the plan's tiling says; every other op runs whole-tensor.
//
// A tile is a block of rows of the output, where a row is the last axis and
// the leading axes are flattened. Each input supplies the rows its leading
// axes broadcast to (an input that does not vary over rows, such as a norm's
// weight vector, is staged whole).

import type { Attrs, Node } from "../../ir/graph/graph.js";
import { opKey } from "../../ir/graph/graph.js";
import type { Tensor } from "../../ir/tensor.js";
import { valuesAsNumbers } from "../../ir/tensor.js";
import { ELEMENTWISE_OPS } from "../../ir/graph/ops/elementwise.js";
import { ACTIVATION_OPS } from "../../ir/graph/ops/activation.js";
import type { Block } from "./arena.js";
import { ResidencyError } from "./arena.js";

/** Ops whose every output element depends only on the same element of each (broadcast) input. */
const POINTWISE = new Set([
  ...[...ELEMENTWISE_OPS, ...ACTIVATION_OPS].map((d) => opKey(d.domain, d.op)),
  "Cast", "CastLike", "Identity", "tierflow.SiLU", "tierflow.SwiGLU",
]);

/** Ops that work on whole rows of the last axis and nothing across rows. */
const LAST_AXIS = new Set(["Softmax", "LogSoftmax", "LayerNormalization", "tierflow.RMSNorm", "tierflow.Rotary"]);
const REDUCE = new Set(["ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd"]);
const MATMUL = new Set(["MatMul", "Gemm", "tierflow.MatMulBias"]);

export type Strategy =
  | { readonly kind: "rows"; readonly columnPieces: boolean }
  | { readonly kind: "matmul" }
  | { readonly kind: "gather" }
  | { readonly kind: "whole" };

/** Output row -> input row, for an input whose leading axes broadcast to the output's. */
export interface RowMap {
  /** The input has one row for all output rows. */
  readonly whole: boolean;
  readonly identity: boolean;
  index(row: number): number;
}

export function product(dims: readonly number[]): number {
  return dims.reduce((p, d) => p * d, 1);
}

/** Map rows of an output with leading axes `out` to rows of an input with leading axes `input`; undefined when they do not broadcast. */
export function rowMapping(input: readonly number[], out: readonly number[]): RowMap | undefined {
  let dims = [...input];
  while (dims.length > out.length && dims[0] === 1) dims = dims.slice(1);
  if (dims.length > out.length) return undefined;
  dims = [...new Array<number>(out.length - dims.length).fill(1), ...dims];
  if (dims.some((d, j) => d !== 1 && d !== out[j])) return undefined;
  if (dims.every((d) => d === 1)) return { whole: true, identity: false, index: () => 0 };
  if (dims.every((d, j) => d === out[j])) return { whole: false, identity: true, index: (r) => r };
  const strides = dims.map((_, j) => (dims[j] === 1 ? 0 : product(dims.slice(j + 1))));
  return {
    whole: false, identity: false,
    index(row) {
      let rest = row, at = 0;
      for (let j = out.length - 1; j >= 0; j--) {
        at += (rest % out[j]!) * strides[j]!;
        rest = Math.floor(rest / out[j]!);
      }
      return at;
    },
  };
}

const leading = (shape: readonly number[]) => shape.slice(0, -1);
const lastOf = (shape: readonly number[]) => (shape.length === 0 ? 1 : shape[shape.length - 1]!);

function attrInt(attrs: Attrs, name: string, fallback: number): number {
  const a = attrs[name];
  return a && a.type === "int" ? a.value : fallback;
}

function normalizedAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

/** Reduce* keeps rows separate when it reduces only the last axis and keeps it. */
function reducesLastAxis(node: Node, rank: number, literal: (name: string) => Tensor | undefined): boolean {
  if (attrInt(node.attrs, "keepdims", 1) !== 1) return false;
  const fromAttr = node.attrs.axes;
  const axes = fromAttr?.type === "ints" ? fromAttr.value : node.inputs[1] ? (() => {
    const t = literal(node.inputs[1]!);
    return t ? valuesAsNumbers(t) : undefined;
  })() : undefined;
  return axes !== undefined && axes.length === 1 && normalizedAxis(axes[0]!, rank) === rank - 1;
}

/**
 * Pick how a device kernel's node runs. `inputs` and `outputs` are the bound
 * shapes (undefined for an omitted optional input).
 */
export function chooseStrategy(node: Node, inputs: readonly (readonly number[] | undefined)[], outputs: readonly (readonly number[])[],
  literal: (name: string) => Tensor | undefined): Strategy {
  const key = opKey(node.domain, node.op);
  const out = outputs[0];
  if (!out || outputs.length !== 1 || out.length < 2) return { kind: "whole" };
  const rank = out.length;
  const present = inputs.filter((s): s is readonly number[] => s !== undefined);
  const rowsMap = (s: readonly number[]) => rowMapping(leading(s), leading(out));
  if (POINTWISE.has(key)) {
    const ok = present.every((s) => rowsMap(s) !== undefined && (lastOf(s) === 1 || lastOf(s) === lastOf(out)) && s.length <= rank);
    return ok ? { kind: "rows", columnPieces: true } : { kind: "whole" };
  }
  const x = present[0];
  let lastAxis = LAST_AXIS.has(key) || (REDUCE.has(key) && x !== undefined && reducesLastAxis(node, x.length, literal));
  if (key === "Softmax" || key === "LogSoftmax" || key === "LayerNormalization") {
    lastAxis = x !== undefined && normalizedAxis(attrInt(node.attrs, "axis", -1), x.length) === x.length - 1;
  }
  if (lastAxis) {
    const ok = x !== undefined && x.length === rank && present.every((s) => rowsMap(s) !== undefined);
    return ok ? { kind: "rows", columnPieces: false } : { kind: "whole" };
  }
  if (MATMUL.has(key)) {
    const [a, b] = inputs;
    if (!a || !b || a.length < 2 || b.length < 2) return { kind: "whole" };
    if (key === "Gemm" && attrInt(node.attrs, "transA", 0) !== 0) return { kind: "whole" };
    const bias = inputs[2];
    const biasOk = !bias || (rowsMap(bias) !== undefined && (lastOf(bias) === 1 || lastOf(bias) === lastOf(out)));
    const batchOk = rowMapping(b.slice(0, -2), out.slice(0, -2)) !== undefined;
    return rowsMap(a) && biasOk && batchOk ? { kind: "matmul" } : { kind: "whole" };
  }
  if (key === "Gather") {
    const [data, indices] = inputs;
    const axis = data ? normalizedAxis(attrInt(node.attrs, "axis", 0), data.length) : -1;
    return data && indices && axis === 0 && data.length >= 2 ? { kind: "gather" } : { kind: "whole" };
  }
  return { kind: "whole" };
}

export interface StagedItem {
  readonly what: string;
  readonly bytes: number;
  /** Element size: items are laid out largest first so typed views stay aligned. */
  readonly elem: number;
}

/**
 * A kernel's stage buffer, the SRAM block the plan gives it. It is double
 * buffered, as the compiler sized it: one half holds the tile being computed
 * while the next streams into the other, so one tile's operands must fit in
 * half. A tile that does not is refused, which is how a buffer sized too small
 * shows up.
 */
export class StageBuffer {
  private steps = 0;

  constructor(private readonly block: Block | undefined, private readonly who: string) {}

  /** Room in the next half for one tile's items, in the order given. */
  reserve(items: readonly StagedItem[]): Uint8Array[] {
    const half = this.block ? Math.floor(this.block.bytes / 2) : 0;
    const total = items.reduce((s, i) => s + i.bytes, 0);
    if (!this.block || total > half) {
      const list = items.map((i) => `${i.what} ${i.bytes}`).join(", ");
      const where = this.block ? `its stage buffer (sram bytes ${this.block.offset}..${this.block.offset + this.block.bytes}) holds two tiles of ${half} bytes` : "the plan gives it no stage buffer in sram";
      throw new ResidencyError(`${this.who}: tile ${this.steps} stages ${total} bytes (${list}), but ${where}`);
    }
    return layoutItems(this.block.data, (this.steps++ % 2) * half, items);
  }
}

/** Slots for `items` from `base` on, largest elements first so typed views stay aligned; returned in the order given. */
export function layoutItems(data: Uint8Array, base: number, items: readonly StagedItem[]): Uint8Array[] {
  const order = items.map((item, i) => ({ item, i })).sort((a, b) => b.item.elem - a.item.elem || a.i - b.i);
  const views = new Array<Uint8Array>(items.length);
  let offset = base;
  for (const { item, i } of order) {
    views[i] = data.subarray(offset, offset + item.bytes);
    offset += item.bytes;
  }
  return views;
}
