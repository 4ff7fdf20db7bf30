// What lowering one node needs whatever its kind: the lowering's options and
// context, and the tiling of a kernel's stream (its tile rows, halved to fit
// the buffer budget, and its stage buffer). Kept apart from to-dataflow.ts so
// the attention and cache lowerings share it without importing the driver.

import type { Graph } from "../../ir/graph/graph.js";
import type { DType } from "../../ir/dtype.js";
import { elementBytes } from "../../ir/dtype.js";
import type { DfKernel, DfTensor, Phase, StreamKind, Tiling } from "../../ir/dataflow/dataflow.js";
import { dimsKey, Interner } from "../../ir/interning.js";
import type { StreamOperand } from "../../ir/dataflow/stream-steps.js";
import { matmulGeometry, productOperands, stageBufferBytes, tilingFor } from "../../ir/dataflow/stream-steps.js";
import type { Bindings } from "./bind.js";

/** Rows of a tile: enough to keep a pipeline stage busy, small enough for on-chip buffers. */
export const TILE_ROWS = 64;

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
  /** One object per distinct shape, tiling and op list, shared by every tensor and kernel that has it. */
  readonly shared: SharedParts;
}

export interface SharedParts {
  readonly shapes: Interner<readonly number[]>;
  readonly tilings: Interner<Tiling>;
  readonly ops: Interner<readonly string[]>;
}

export function sharedParts(): SharedParts {
  return {
    shapes: new Interner<readonly number[]>(dimsKey),
    tilings: new Interner((t) => `${dimsKey(t.tileShape)}|${t.tiles}|${t.blocks}`),
    ops: new Interner((ops) => JSON.stringify(ops)),
  };
}


export function rowsOf(shape: readonly number[]): { rows: number; last: number } {
  const last = shape.length === 0 ? 1 : shape[shape.length - 1]!;
  const rows = shape.slice(0, -1).reduce((p, d) => p * d, 1);
  return { rows, last };
}

/** A tensor as a kernel's step stages it (weights and constants are read from their tier by whole-tensor kernels). */
export function streamOperand(t: DfTensor): StreamOperand {
  return { name: t.name, shape: t.shape, elem: elementBytes(t.dtype), staged: true, resident: t.role === "weight" || t.role === "constant" };
}

/**
 * Tiling and stage buffer of a kernel that streams as `kind` (ir/dataflow/streaming.ts, stream-steps.ts):
 * tiles of up to TILE_ROWS rows, halved while the buffer exceeds `budget`; the buffer is
 * twice the largest step (double buffering), or a whole-tensor kernel's one step.
 * `inputs` follow the kernel's operands (undefined for an omitted optional one).
 */
export function tileKernel(kind: StreamKind, inputs: readonly (DfTensor | undefined)[], outputs: readonly DfTensor[],
  options: { budget?: number | undefined; op?: string } = {}): Pick<DfKernel, "streaming" | "tiling" | "bufferBytes"> {
  if (kind === "none") return { streaming: kind, tiling: { tileShape: [], tiles: 0, blocks: 1 }, bufferBytes: 0 };
  const raw = { inputs: inputs.map((t) => (t ? streamOperand(t) : undefined)), outputs: outputs.map(streamOperand) };
  const ops = kind === "matmul" && options.op ? productOperands(options.op, raw) : raw;
  // An append tiles the rows it appends, not the cache it writes them into.
  const shapes = kind === "append" && inputs[1] ? [inputs[1].shape] : outputs.map((t) => t.shape);
  const { rows } = rowsOf(shapes[0] ?? []);
  let tileRows = Math.max(1, Math.min(rows, TILE_ROWS));
  const measure = () => {
    const tiling = tilingFor(kind, shapes, tileRows);
    return { tiling, buffer: stageBufferBytes(kind, ops, tiling.tileShape, tiling.tiles) };
  };
  let m = measure();
  while (kind !== "whole" && options.budget !== undefined && m.buffer > options.budget && tileRows > 1) {
    tileRows = Math.ceil(tileRows / 2);
    m = measure();
  }
  let blocks = 1;
  if (kind === "matmul" && ops.inputs[0] && ops.inputs[1] && ops.outputs[0]) {
    const geo = matmulGeometry(ops.inputs[0], ops.inputs[1], ops.outputs[0]);
    blocks = Math.ceil(geo.n / geo.width);
  }
  return { streaming: kind, tiling: { tileShape: m.tiling.tileShape, tiles: m.tiling.tiles, blocks }, bufferBytes: m.buffer };
}
