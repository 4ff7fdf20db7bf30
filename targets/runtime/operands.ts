// What a kernel computes on: operands read from memory (bytes in the plan's
// dtype), launch constants, and destinations for its results; plus the one
// place that calls the reference backend's kernels (its kernel table).

import type { Node } from "../../ir/graph/graph.js";
import { opOf } from "../../ir/graph/ops.js";
import { kernelFor } from "../reference/kernel-table.js";
import type { DType } from "../../ir/dtype.js";
import { dtypeBytes } from "../../ir/dtype.js";
import { TierflowError, fail } from "../../ir/diagnostics.js";
import type { Tensor } from "../../ir/tensor.js";
import type { Tiling } from "../../ir/dataflow/dataflow.js";
import type { Destination } from "./memory.js";
import type { RowMap, StageBuffer } from "./tiles.js";

export interface Operand {
  readonly name: string;
  /** Shape bound in the plan. */
  readonly shape: readonly number[];
  /** dtype the plan stores it in, and the graph's dtype kernels compute in. */
  readonly storage: DType;
  readonly dtype: DType;
  /** The whole tensor's bytes where it lives; absent for a constant the launch carries (`value`). */
  readonly bytes?: Uint8Array;
  readonly value?: Tensor;
}

export interface Result {
  readonly name: string;
  readonly shape: readonly number[];
  readonly storage: DType;
  readonly dtype: DType;
  readonly dest: Destination;
}

export type OpNode = Pick<Node, "op" | "domain" | "attrs" | "name" | "outputs">;

/** One tiled computation: a node over operands into one result, through a stage buffer. */
export interface TiledStep {
  readonly who: string;
  readonly node: OpNode;
  readonly inputs: readonly (Operand | undefined)[];
  readonly output: Result;
  readonly tiling: Tiling;
  readonly stage: StageBuffer;
  readonly opset: number;
}

export const elemBytes = (o: { storage: DType }) => dtypeBytes(o.storage);
export const lastOf = (shape: readonly number[]) => (shape.length === 0 ? 1 : shape[shape.length - 1]!);
export const leadingOf = (shape: readonly number[]) => shape.slice(0, -1);

/** Run a node with the reference backend's kernel; errors name the node. */
export function invoke(node: OpNode, inputs: readonly (Tensor | undefined)[], opset: number, outputDTypes?: readonly DType[]): Tensor[] {
  opOf(node);
  const kernel = kernelFor(node);
  if (!kernel) fail(`no kernel for op '${node.op}' in the reference backend`, { node: node.name });
  try {
    return kernel(inputs, {
      attrs: node.attrs, opset, outputCount: node.outputs.length, ...(outputDTypes ? { outputDTypes } : {}),
    });
  } catch (err) {
    if (err instanceof TierflowError) throw err.at({ node: node.name });
    if (err instanceof Error) throw new Error(`node '${node.name}' (${node.op}): ${err.message}`, { cause: err });
    throw err;
  }
}

/** A tile of one operand: the distinct rows it reads are staged; `expand` spreads them over the tile's rows. */
export interface OperandTile {
  /** Bytes staged on chip: each distinct input row the tile reads, once. */
  readonly bytes: number;
  readonly dims: number[];
  fill(dst: Uint8Array): void;
  /** The tile as the kernel sees it, read from the staged rows through the broadcast (an addressing pattern, not more on-chip bytes). */
  expand(staged: Uint8Array): Uint8Array;
}

/**
 * A tile of an operand: output rows [r0, r0 + n) through its row map and
 * columns [c0, c1) of each row (all columns when `cols` is absent or the
 * operand's last axis broadcasts). An operand with one row for all output
 * rows keeps its own shape unless `spread`; otherwise the tile has `rank`
 * axes [n, 1.., w].
 */
export function rowTile(op: Operand, map: RowMap, r0: number, n: number, cols: readonly [number, number] | undefined, rank: number,
  spread = false): OperandTile {
  const last = lastOf(op.shape), elem = elemBytes(op);
  const [a, b] = cols && last !== 1 ? cols : [0, last];
  const w = b - a, rowBytes = w * elem;
  const single = map.whole && !spread;
  const dims = single
    ? (op.shape.length === 0 ? [] : [...leadingOf(op.shape), w])
    : [n, ...new Array<number>(Math.max(0, rank - 2)).fill(1), w];
  // Distinct input rows in the order staged, and for each tile row its staged row.
  let rows: number[], at: Int32Array | undefined;
  if (map.whole) rows = [0];
  else if (map.identity) rows = Array.from({ length: n }, (_, i) => r0 + i);
  else {
    const index = Array.from({ length: n }, (_, i) => map.index(r0 + i));
    rows = [...new Set(index)].sort((x, y) => x - y);
    const slot = new Map(rows.map((r, j) => [r, j]));
    at = Int32Array.from(index, (r) => slot.get(r)!);
  }
  if (map.whole && spread) at = new Int32Array(n);
  const src = op.bytes!;
  return {
    bytes: rows.length * rowBytes, dims,
    fill(dst) {
      if (map.identity && w === last) {
        dst.set(src.subarray(r0 * last * elem, (r0 + n) * last * elem));
        return;
      }
      rows.forEach((row, j) => dst.set(src.subarray((row * last + a) * elem, (row * last + b) * elem), j * rowBytes));
    },
    expand(staged) {
      if (!at) return staged;
      const out = new Uint8Array(n * rowBytes);
      for (let i = 0; i < n; i++) out.set(staged.subarray(at[i]! * rowBytes, (at[i]! + 1) * rowBytes), i * rowBytes);
      return out;
    },
  };
}

/** Copy a staged [n, w] result into rows [r0, r0 + n), columns [c0, c0 + w) of a [rows, last] destination. */
export function writeRows(dest: Uint8Array, staged: Uint8Array, last: number, elem: number, r0: number, n: number, c0: number, w: number): void {
  if (w === last) {
    dest.set(staged.subarray(0, n * w * elem), r0 * last * elem);
    return;
  }
  for (let i = 0; i < n; i++) dest.set(staged.subarray(i * w * elem, (i + 1) * w * elem), ((r0 + i) * last + c0) * elem);
}
