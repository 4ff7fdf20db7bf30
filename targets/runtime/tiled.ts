// Row-separable kernels, run tile by tile as the plan's tiling says: tile t
// covers output rows [rt * tileRows, ...) and, where rows are longer than a
// tile's columns, column piece t % pieces. Each tile's operands are copied
// into the kernel's stage buffer, computed on there with the op table's
// kernel, and its result copied out to the output's tier or stream. A tiling
// that leaves part of the output unwritten is refused, as is a tile that does
// not fit its buffer.

import type { DType } from "../../ir/dtype.js";
import type { Tensor } from "../../ir/tensor.js";
import { weightBlockColumns } from "../../compiler/lower/to-dataflow.js";
import { ResidencyError } from "./arena.js";
import { bytesToTensor, tensorToBytes } from "./bytes.js";
import type { Operand, TiledStep } from "./operands.js";
import { elemBytes, invoke, lastOf, leadingOf, rowTile, writeRows } from "./operands.js";
import type { RowMap } from "./tiles.js";
import { product, rowMapping } from "./tiles.js";

interface TileGrid {
  readonly rows: number;
  readonly last: number;
  readonly tileRows: number;
  readonly cols: number;
  readonly pieces: number;
}

function grid(step: TiledStep, columnPieces: boolean): TileGrid {
  const shape = step.output.shape;
  const rows = product(leadingOf(shape)), last = lastOf(shape);
  const [tileRows, cols] = step.tiling.tileShape;
  if (!tileRows || !cols || tileRows < 1 || cols < 1) throw new ResidencyError(`${step.who}: the plan gives it no tiling (tile shape [${step.tiling.tileShape.join(", ")}])`);
  const pieces = Math.max(1, Math.ceil(last / cols));
  if (pieces > 1 && !columnPieces) {
    throw new ResidencyError(`${step.who}: rows of ${last} cannot stream in pieces of ${cols} columns (${step.node.op} needs whole rows)`);
  }
  return { rows, last, tileRows, cols, pieces };
}

/** Visit the plan's tiles in order; checks each lies inside the output and that together they cover it. */
function forEachTile(step: TiledStep, g: TileGrid, body: (r0: number, n: number, c0: number, c1: number) => void): number {
  let covered = 0;
  for (let t = 0; t < step.tiling.tiles; t++) {
    const r0 = Math.floor(t / g.pieces) * g.tileRows, c0 = (t % g.pieces) * g.cols;
    if (r0 >= g.rows) throw new ResidencyError(`${step.who}: tile ${t} starts at row ${r0}, past the ${g.rows} rows of '${step.output.name}'`);
    const n = Math.min(g.tileRows, g.rows - r0), c1 = Math.min(g.last, c0 + g.cols);
    body(r0, n, c0, c1);
    covered += n * (c1 - c0);
  }
  if (covered !== g.rows * g.last) {
    throw new ResidencyError(`${step.who}: its tiling (${step.tiling.tiles} tiles of [${step.tiling.tileShape.join(", ")}]) writes ${covered} of the ${g.rows * g.last} elements of '${step.output.name}'`);
  }
  step.output.dest.commit();
  return step.tiling.tiles;
}

function stagedTensor(bytes: Uint8Array, o: { storage: DType; dtype: DType }, dims: readonly number[]): Tensor {
  return bytesToTensor(bytes, o.storage, o.dtype, dims);
}

/** Put a tile's [n, w] result bytes into its staged slot, then into the output rows. */
function emit(step: TiledStep, g: TileGrid, bytes: Uint8Array | undefined, slot: Uint8Array, r0: number, n: number, c0: number, w: number): void {
  if (!bytes || bytes.byteLength !== slot.byteLength) {
    throw new Error(`${step.who}: kernel gave ${bytes?.byteLength ?? 0} bytes for a tile of ${slot.byteLength}`);
  }
  slot.set(bytes);
  writeRows(step.output.dest.data, slot, g.last, elemBytes(step.output), r0, n, c0, w);
}

function resultBytes(step: TiledStep, result: Tensor | undefined): Uint8Array | undefined {
  return result ? tensorToBytes(result, step.output.storage) : undefined;
}

/** Pointwise ops and last-axis row ops. */
export function runRows(step: TiledStep, columnPieces: boolean): number {
  const g = grid(step, columnPieces);
  const outShape = step.output.shape, rank = outShape.length;
  const maps = step.inputs.map((op) => (op?.bytes ? rowMapping(leadingOf(op.shape), leadingOf(outShape)) : undefined));
  return forEachTile(step, g, (r0, n, c0, c1) => {
    const w = c1 - c0;
    // Pointwise inputs split into the same column pieces; last-axis ops read whole rows.
    const cols = columnPieces ? ([c0, c1] as const) : undefined;
    const tiles = step.inputs.map((op, i) => (op?.bytes ? rowTile(op, maps[i]!, r0, n, cols, rank) : undefined));
    const items = tiles.flatMap((t, i) => (t ? [{ what: step.inputs[i]!.name, bytes: t.bytes, elem: elemBytes(step.inputs[i]!) }] : []));
    const slots = step.stage.reserve([...items, { what: step.output.name, bytes: n * w * elemBytes(step.output), elem: elemBytes(step.output) }]);
    let slot = 0;
    const args = step.inputs.map((op, i) => {
      const t = tiles[i];
      if (!op || !t) return op?.value;
      const dst = slots[slot++]!;
      t.fill(dst);
      return stagedTensor(t.expand(dst), op, t.dims);
    });
    const [result] = invoke(step.node, args, step.opset, [step.output.dtype]);
    emit(step, g, resultBytes(step, result), slots[slot]!, r0, n, c0, w);
  });
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
  const map: RowMap = rowMapping(b.shape.slice(0, -2), out.slice(0, -2))!;
  return (batch) => map.index(batch);
}

/**
 * Output columns of one block of b: at most WEIGHT_BLOCK_COLUMNS, and a
 * double-buffered K x columns block within WEIGHT_BLOCK_BYTES, the rule the
 * compiler sizes weight blocks by (compiler/lower/to-dataflow.ts).
 */
export function blockColumns(k: number, n: number, elem: number): number {
  return weightBlockColumns(k, n, elem);
}

/** Matrix products by rows of a, with b streamed in blocks of output columns (blockColumns). */
export function runMatmul(step: TiledStep, spec: MatmulSpec): number {
  const g = grid(step, true);
  const { a, b, bias } = spec;
  const out = step.output.shape;
  const m = out[out.length - 2]!, k = lastOf(a.shape), n = lastOf(out);
  const aMap = rowMapping(leadingOf(a.shape), leadingOf(out))!;
  const biasMap = bias?.bytes ? rowMapping(leadingOf(bias.shape), leadingOf(out)) : undefined;
  const eb = elemBytes(b), matrix = k * n * eb;
  const sameMatrix = product(b.shape.slice(0, -2)) === 1;
  const width = blockColumns(k, n, eb);
  return forEachTile(step, g, (r0, rows, c0, c1) => {
    // Rows of one tile may span several batch entries, each with its own matrix of b.
    for (let g0 = r0; g0 < r0 + rows;) {
      const g1 = sameMatrix ? r0 + rows : Math.min(r0 + rows, (Math.floor(g0 / m) + 1) * m);
      const base = (sameMatrix ? 0 : spec.bIndex(Math.floor(g0 / m))) * matrix;
      for (let cb0 = c0; cb0 < c1; cb0 += width) {
        const cb1 = Math.min(c1, cb0 + width), nb = cb1 - cb0, nr = g1 - g0;
        const aTile = rowTile(a, aMap, g0, nr, undefined, 2, true);
        const biasTile = bias?.bytes && biasMap ? rowTile(bias, biasMap, g0, nr, [cb0, cb1], 2) : undefined;
        const items = [
          { what: a.name, bytes: aTile.bytes, elem: elemBytes(a) },
          { what: `${b.name} block`, bytes: k * nb * eb, elem: eb },
          ...(biasTile ? [{ what: bias!.name, bytes: biasTile.bytes, elem: elemBytes(bias!) }] : []),
          { what: step.output.name, bytes: nr * nb * elemBytes(step.output), elem: elemBytes(step.output) },
        ];
        const slots = step.stage.reserve(items);
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
        emit(step, g, resultBytes(step, result), slots[slots.length - 1]!, g0, nr, cb0, nb);
      }
      g0 = g1;
    }
  });
}

/**
 * A row gather (an embedding lookup, or expert weights picked by index):
 * Gather(data, indices) on axis 0 gives `slab` rows of data per index, so
 * output row r comes from index floor(r / slab). The index entries stream;
 * the table is read where it lies, only at the rows gathered.
 */
export function runGather(step: TiledStep): number {
  const g = grid(step, true);
  const [data, indices] = step.inputs as [Operand, Operand];
  const slab = product(data.shape.slice(1, -1));
  // A view of the table in its tier (decoded once for a narrower plan dtype).
  const table = bytesToTensor(data.bytes!, data.storage, data.dtype, data.shape);
  const ei = elemBytes(indices), eo = elemBytes(step.output);
  return forEachTile(step, g, (r0, n, c0, c1) => {
    const w = c1 - c0;
    const i0 = Math.floor(r0 / slab), i1 = Math.floor((r0 + n - 1) / slab) + 1;
    const [idxSlot, outSlot] = step.stage.reserve([
      { what: indices.name, bytes: (i1 - i0) * ei, elem: ei },
      { what: step.output.name, bytes: n * w * eo, elem: eo },
    ]);
    idxSlot!.set(indices.bytes!.subarray(i0 * ei, i1 * ei));
    const [rows] = invoke(step.node, [table, stagedTensor(idxSlot!, indices, [i1 - i0])], step.opset, [step.output.dtype]);
    const bytes = resultBytes(step, rows);
    if (!bytes) throw new Error(`${step.who}: the gather kernel gave no result`);
    const piece = new Uint8Array(n * w * eo), first = r0 - i0 * slab;
    for (let i = 0; i < n; i++) piece.set(bytes.subarray(((first + i) * g.last + c0) * eo, ((first + i) * g.last + c1) * eo), i * w * eo);
    emit(step, g, piece, outSlot!, r0, n, c0, w);
  });
}
