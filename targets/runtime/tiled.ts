// Kernels run tile by tile as the plan's streaming and tiling say. The steps,
// and what each stages, come from ir/dataflow/stream-steps.ts, the description the
// lowering sized the stage buffer by; here each step's operands are copied into
// one half of the buffer, computed on there with the reference kernel of its op, and the
// result copied out to the output's tier or stream. A tiling that cannot run
// (no tile shape, rows cut that must stay whole, elements left unwritten) is
// refused before the first step, as the legality check refuses it.

import type { DType } from "../../ir/dtype.js";
import { elementBytes } from "../../ir/dtype.js";
import type { Tensor } from "../../ir/tensor.js";
import { makeTensor } from "../../ir/tensor.js";
import type { StreamKind } from "../../ir/dataflow/streaming.js";
import type { KernelOperands, MatmulStep, StreamOperand, StreamStep } from "../../ir/dataflow/stream-steps.js";
import { MOVED_INPUTS, lastOf, product, rowMapping } from "../../ir/dataflow/streaming.js";
import { matmulSteps, streamSteps, tileGrid, tilingProblem } from "../../ir/dataflow/stream-steps.js";
import { weightBlockColumns } from "../../ir/dataflow/streaming.js";
import { RESIDENT_ROLES } from "./memory.js";
import { ResidencyError } from "./arena.js";
import { bytesToTensor, tensorToBytes } from "./bytes.js";
import type { Operand, Result, TiledStep } from "./operands.js";
import { elemBytes, invoke, leadingOf, rowTile, writeRows } from "./operands.js";

/** The operands as the shared description sees them (int4's half-byte elements size whole-byte items there; addressing rows of them is refused). */
export function streamOperand(o: Operand | Result, resident = false): StreamOperand {
  return { name: o.name, shape: o.shape, elem: elementBytes(o.storage), staged: "dest" in o || (o as Operand).bytes !== undefined, resident };
}

function operandsOf(step: TiledStep, outputs: readonly Result[] = [step.output]): KernelOperands {
  return { inputs: step.inputs.map((o) => (o ? streamOperand(o) : undefined)), outputs: outputs.map((r) => streamOperand(r)) };
}

/** Refuse a tiling that cannot run as `kind` (the legality check's words). */
export function checkTiling(step: TiledStep, kind: StreamKind, outputs: readonly Result[] = [step.output]): void {
  const problem = tilingProblem(kind, outputs, step.tiling.tileShape, step.tiling.tiles, step.who, step.node.op);
  if (problem) throw new ResidencyError(problem);
}

export function stagedTensor(bytes: Uint8Array, o: { storage: DType; dtype: DType }, dims: readonly number[]): Tensor {
  return bytesToTensor(bytes, o.storage, o.dtype, dims);
}

/** Put a step's [n, w] result bytes into its staged slot, then into the output rows. */
export function emit(step: TiledStep, out: Result, bytes: Uint8Array | undefined, slot: Uint8Array, r0: number, n: number, c0: number, w: number): void {
  if (!bytes || bytes.byteLength !== slot.byteLength) {
    throw new Error(`${step.who}: kernel gave ${bytes?.byteLength ?? 0} bytes for a tile of ${slot.byteLength}`);
  }
  slot.set(bytes);
  writeRows(out.dest.data, slot, lastOf(out.shape), elemBytes(out), r0, n, c0, w);
}

export function resultBytes(out: Result, result: Tensor | undefined): Uint8Array | undefined {
  return result ? tensorToBytes(result, out.storage) : undefined;
}

/** Pointwise ops (columns) and last-axis row ops (rows). */
export function runRows(step: TiledStep, columnPieces: boolean): number {
  const kind = columnPieces ? "columns" : "rows";
  checkTiling(step, kind);
  const outShape = step.output.shape, rank = outShape.length;
  const maps = step.inputs.map((op) => (op?.bytes ? rowMapping(leadingOf(op.shape), leadingOf(outShape)) : undefined));
  let steps = 0;
  for (const s of streamSteps(kind, operandsOf(step), step.tiling.tileShape, step.tiling.tiles)) {
    const { r0, n, c0, c1 } = s, w = c1 - c0;
    const cols = columnPieces ? ([c0, c1] as const) : undefined;
    const tiles = step.inputs.map((op, i) => (op?.bytes ? rowTile(op, maps[i]!, r0, n, cols, rank) : undefined));
    const slots = step.stage.reserve(s.items);
    let slot = 0;
    const args = step.inputs.map((op, i) => {
      const t = tiles[i];
      if (!op || !t) return op?.value;
      const dst = slots[slot++]!;
      t.fill(dst);
      return stagedTensor(t.expand(dst), op, t.dims);
    });
    const [result] = invoke(step.node, args, step.opset, [step.output.dtype]);
    emit(step, step.output, resultBytes(step.output, result), slots[slot]!, r0, n, c0, w);
    steps++;
  }
  step.output.dest.commit();
  return steps;
}

export interface MatmulSpec {
  readonly a: Operand;
  readonly b: Operand;
  readonly bias?: Operand;
  /** b holds each matrix as [N, K] (Gemm's transB, attention's keys). */
  readonly transB: boolean;
  /** Output batch index -> index of b's matrix (broadcast, or grouped KV heads). */
  readonly bIndex: (batch: number) => number;
  readonly multiply: (a: Tensor, b: Tensor, bias: Tensor | undefined) => Tensor | undefined;
}

/** The numpy-broadcast matrix index of b for each output batch index. */
export function broadcastMatrices(b: Operand, out: readonly number[]): (batch: number) => number {
  const map = rowMapping(b.shape.slice(0, -2), out.slice(0, -2))!;
  return (batch) => map.index(batch);
}

/** Output columns of one block of b, the rule the compiler sizes weight blocks by (ir/dataflow/streaming.ts). */
export function blockColumns(k: number, n: number, elem: number): number {
  return weightBlockColumns(k, n, elem);
}

/** Matrix products by rows of a, with b streamed in blocks of output columns. */
export function runMatmul(step: TiledStep, spec: MatmulSpec): number {
  checkTiling(step, "matmul");
  const { a, b, bias } = spec;
  const out = step.output.shape;
  const m = out[out.length - 2]!, k = lastOf(a.shape), n = lastOf(out);
  const aMap = rowMapping(leadingOf(a.shape), leadingOf(out))!;
  const biasMap = bias?.bytes ? rowMapping(leadingOf(bias.shape), leadingOf(out)) : undefined;
  const eb = elemBytes(b), matrix = k * n * eb;
  const sameMatrix = product(b.shape.slice(0, -2)) === 1;
  const ops = { a: streamOperand(a), b: streamOperand(b), bias: bias ? streamOperand(bias) : undefined, out: streamOperand(step.output) };
  const g = tileGrid(out, step.tiling.tileShape)!;
  let steps = 0;
  for (const s of matmulSteps(ops.a, ops.b, ops.bias, ops.out, g, step.tiling.tiles) as Generator<MatmulStep>) {
    const { g0, nr, cb0, cb1 } = s, nb = cb1 - cb0;
    const base = (sameMatrix ? 0 : spec.bIndex(Math.floor(g0 / m))) * matrix;
    const aTile = rowTile(a, aMap, g0, nr, undefined, 2, true);
    const biasTile = bias?.bytes && biasMap ? rowTile(bias, biasMap, g0, nr, [cb0, cb1], 2) : undefined;
    const slots = step.stage.reserve(s.items);
    aTile.fill(slots[0]!);
    const block = slots[1]!, src = b.bytes!;
    if (spec.transB) block.set(src.subarray(base + cb0 * k * eb, base + cb1 * k * eb));
    else for (let p = 0; p < k; p++) block.set(src.subarray(base + (p * n + cb0) * eb, base + (p * n + cb1) * eb), p * nb * eb);
    if (biasTile) biasTile.fill(slots[2]!);
    const result = spec.multiply(
      stagedTensor(aTile.expand(slots[0]!), a, aTile.dims),
      stagedTensor(block, b, spec.transB ? [nb, k] : [k, nb]),
      biasTile ? stagedTensor(biasTile.expand(slots[2]!), bias!, biasTile.dims) : bias?.value,
    );
    emit(step, step.output, resultBytes(step.output, result), slots[slots.length - 1]!, g0, nr, cb0, nb);
    steps++;
  }
  step.output.dest.commit();
  return steps;
}

/**
 * A row gather (an embedding lookup, or expert weights picked by index):
 * Gather(data, indices) on axis 0 gives `slab` rows of data per index, so
 * output row r comes from index floor(r / slab). The index entries stream;
 * the table is read where it lies, only at the rows gathered.
 */
export function runGather(step: TiledStep): number {
  checkTiling(step, "gather");
  const [data, indices] = step.inputs as [Operand, Operand];
  const slab = product(data.shape.slice(1, -1));
  // A view of the table in its tier (decoded once for a narrower plan dtype).
  const table = bytesToTensor(data.bytes!, data.storage, data.dtype, data.shape);
  const ei = elemBytes(indices), eo = elemBytes(step.output), last = lastOf(step.output.shape);
  let steps = 0;
  for (const s of streamSteps("gather", operandsOf(step), step.tiling.tileShape, step.tiling.tiles)) {
    const { r0, n, c0, c1 } = s, w = c1 - c0;
    const i0 = Math.floor(r0 / slab), i1 = Math.floor((r0 + n - 1) / slab) + 1;
    const [idxSlot, outSlot] = step.stage.reserve(s.items);
    idxSlot!.set(indices.bytes!.subarray(i0 * ei, i1 * ei));
    const [rows] = invoke(step.node, [table, stagedTensor(idxSlot!, indices, [i1 - i0])], step.opset, [step.output.dtype]);
    const bytes = resultBytes(step.output, rows);
    if (!bytes) throw new Error(`${step.who}: the gather kernel gave no result`);
    const piece = new Uint8Array(n * w * eo), first = r0 - i0 * slab;
    for (let i = 0; i < n; i++) piece.set(bytes.subarray(((first + i) * last + c0) * eo, ((first + i) * last + c1) * eo), i * w * eo);
    emit(step, step.output, piece, outSlot!, r0, n, c0, w);
    steps++;
  }
  step.output.dest.commit();
  return steps;
}

/**
 * Data movement (Transpose, Slice, Concat, Split, Expand, Tile, Gather on other
 * axes): each output element is one element of a moved input, found once by
 * running the op's own kernel on the inputs' element numbers (the moved inputs
 * numbered one after another, the others as they are). Each step then gathers
 * its tile's elements by those numbers into the stage buffer, the way an
 * address generator streams them, and writes the tile out. Every output in turn.
 */
export function runMap(step: TiledStep, outputs: readonly Result[]): number {
  checkTiling(step, "map", outputs);
  const moved = MOVED_INPUTS[step.node.op] === "all" ? step.inputs.map((_, i) => i) : [0];
  const sources = moved.map((i) => step.inputs[i]!);
  const elem = elemBytes(sources[0]!);
  if (sources.some((s) => elemBytes(s) !== elem) || outputs.some((o) => elemBytes(o) !== elem)) {
    throw new ResidencyError(`${step.who}: data movement needs its moved inputs and outputs in one dtype`);
  }
  // Element numbers: moved input j's elements follow those of the inputs before it.
  let offset = 0;
  const args = step.inputs.map((op, i) => {
    if (!op) return undefined;
    if (!moved.includes(i)) return op.value ?? bytesToTensor(op.bytes!, op.storage, op.dtype, op.shape);
    const count = product(op.shape), numbers = makeTensor("f64", op.shape);
    const d = numbers.data as Float64Array;
    for (let e = 0; e < count; e++) d[e] = offset + e;
    offset += count;
    return numbers;
  });
  const numbered = invoke(step.node, args, step.opset, outputs.map(() => "f64"));
  const starts = moved.reduce<number[]>((acc, i) => [...acc, acc[acc.length - 1]! + product(step.inputs[i]!.shape)], [0]);
  const sourceOf = (number: number): [Uint8Array, number] => {
    let j = 0;
    while (number >= starts[j + 1]!) j++;
    return [sources[j]!.bytes!, number - starts[j]!];
  };
  const ops = { inputs: sources.map((s) => streamOperand(s)), outputs: outputs.map((r) => streamOperand(r)) };
  let steps = 0;
  for (const s of streamSteps("map", ops, step.tiling.tileShape, step.tiling.tiles) as Generator<StreamStep>) {
    const out = outputs[s.output]!, map = numbered[s.output]!.data as Float64Array, last = lastOf(out.shape);
    const { r0, n, c0, c1 } = s, w = c1 - c0;
    const [gathered, outSlot] = step.stage.reserve(s.items);
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < w; c++) {
        const [src, at] = sourceOf(map[(r0 + i) * last + c0 + c]!);
        gathered!.set(src.subarray(at * elem, (at + 1) * elem), (i * w + c) * elem);
      }
    }
    outSlot!.set(gathered!);
    writeRows(out.dest.data, outSlot!, last, elem, r0, n, c0, w);
    steps++;
  }
  for (const out of outputs) out.dest.commit();
  return steps;
}

/**
 * An op over batch entries (Conv, pools, batch norm): each step stages entry t
 * of the data (the first input), the other activations whole, and entry t of
 * each result, and runs the op's kernel on that one entry. Every output entry
 * depends only on its own entry, so the steps give the whole op's values.
 * `resident` says which operands are read from their tier (weights, constants).
 */
export function runImages(step: TiledStep, outputs: readonly Result[], resident: (o: Operand) => boolean): number {
  checkTiling(step, "images", outputs);
  const inputs = step.inputs.map((o) => (o ? { ...streamOperand(o), resident: resident(o) } : undefined));
  const ops = { inputs, outputs: outputs.map((r) => streamOperand(r)) };
  const [data] = step.inputs as [Operand];
  const perEntry = (o: { shape: readonly number[]; storage: DType }) => product(o.shape.slice(1)) * elemBytes(o);
  const entryDims = (o: { shape: readonly number[] }) => [1, ...o.shape.slice(1)];
  let steps = 0;
  for (const s of streamSteps("images", ops, step.tiling.tileShape, step.tiling.tiles)) {
    const t = s.r0;
    const slots = step.stage.reserve(s.items);
    let slot = 0;
    const staged = new Map<string, Tensor>();
    if (data.bytes) {
      const dst = slots[slot++]!;
      dst.set(data.bytes.subarray(t * perEntry(data), (t + 1) * perEntry(data)));
      staged.set(data.name, stagedTensor(dst, data, entryDims(data)));
    }
    step.inputs.forEach((o, i) => {
      if (i === 0 || !o?.bytes || inputs[i]!.resident || staged.has(o.name)) return;
      const dst = slots[slot++]!;
      dst.set(o.bytes);
      staged.set(o.name, stagedTensor(dst, o, o.shape));
    });
    const args = step.inputs.map((o, i) => (o ? (i === 0 ? staged.get(data.name) : staged.get(o.name)) ?? o.value ?? bytesToTensor(o.bytes!, o.storage, o.dtype, o.shape) : undefined));
    const results = invoke(step.node, args, step.opset, outputs.map((r) => r.dtype));
    outputs.forEach((r, j) => {
      const bytes = resultBytes(r, results[j]);
      const out = slots[slot + j]!;
      if (!bytes || bytes.byteLength !== out.byteLength) throw new Error(`${step.who}: kernel gave ${bytes?.byteLength ?? 0} bytes for an entry of ${out.byteLength}`);
      out.set(bytes);
      r.dest.data.set(out, t * perEntry(r));
    });
    steps++;
  }
  for (const r of outputs) r.dest.commit();
  return steps;
}

/** Whether an operand streams from its tier in a whole-tensor kernel (weights and constants) rather than being staged. */
export function residentRole(role: string): boolean {
  return RESIDENT_ROLES.has(role);
}

export type { MatmulStep };
