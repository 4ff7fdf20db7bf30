// What each step of a streaming kernel stages (ir/dataflow/streaming.ts says
// which ops stream how): the steps of each kind in order, with the bytes of
// every operand a step holds in the stage buffer. The lowering sizes buffers
// by them (stageBufferBytes), the legality check proves each fits, and the
// runtime (targets/runtime/tiled.ts) steps through them.

import type { StreamKind } from "./streaming.js";
import { TILE_COLUMNS, distinctRows, lastOf, leadingRowMapping, product, weightBlockColumns } from "./streaming.js";

const leading = (shape: readonly number[]) => shape.slice(0, -1);

/** One operand as a step stages it. `staged` is false for a launch constant (no bytes in memory). */
export interface StreamOperand {
  readonly name: string;
  readonly shape: readonly number[];
  readonly elem: number;
  readonly staged: boolean;
  /** A weight or constant: a whole-tensor kernel reads it from its tier rather than staging it. */
  readonly resident: boolean;
  /**
   * A product's right operand stored otherwise than [K, N] elements (onnxruntime's
   * MatMulNBits packing): the bytes one output column's weights take as stored.
   */
  readonly columnBytes?: number;
}

export interface StagedItem {
  readonly what: string;
  readonly bytes: number;
  /** Element size: items are laid out largest first so typed views stay aligned. */
  readonly elem: number;
}

/** One step: what it stages, and where in the output it writes. */
export interface StreamStep {
  readonly items: readonly StagedItem[];
  /** Output index (map kernels stream each output in turn), rows [r0, r0 + n), columns [c0, c1). */
  readonly output: number;
  readonly r0: number;
  readonly n: number;
  readonly c0: number;
  readonly c1: number;
}

/** The tiles of one output: rows of `tileRows`, rows longer than `cols` in pieces. */
export interface TileGrid {
  readonly rows: number;
  readonly last: number;
  readonly tileRows: number;
  readonly cols: number;
  readonly pieces: number;
}

export function tileGrid(shape: readonly number[], tileShape: readonly number[]): TileGrid | undefined {
  const [tileRows, cols] = tileShape;
  if (!tileRows || !cols || tileRows < 1 || cols < 1) return undefined;
  const last = lastOf(shape);
  return { rows: product(leading(shape)), last, tileRows, cols, pieces: Math.max(1, Math.ceil(last / cols)) };
}

/** Tiles of a grid, t-th at rows [floor(t / pieces) * tileRows, ...) and column piece t % pieces. */
export function tileAt(g: TileGrid, t: number): { r0: number; n: number; c0: number; c1: number } {
  const r0 = Math.floor(t / g.pieces) * g.tileRows, c0 = (t % g.pieces) * g.cols;
  return { r0, n: Math.max(0, Math.min(g.tileRows, g.rows - r0)), c0, c1: Math.min(g.last, c0 + g.cols) };
}

/** Tiles that cover a grid's output once. */
export const gridTiles = (g: TileGrid): number => Math.max(1, Math.ceil(g.rows / g.tileRows)) * g.pieces;

// int4 operands have elem 0.5: a run of them stages whole bytes, rounded up.
const item = (what: string, bytes: number, elem: number): StagedItem => ({ what, bytes: Math.ceil(bytes), elem });

/** Row tile of an operand: the distinct input rows staged, each `cols` wide or whole. */
export function rowTileBytes(op: StreamOperand, out: readonly number[], r0: number, n: number, cols: readonly [number, number] | undefined): number {
  const map = leadingRowMapping(op.shape, out)!;
  const last = lastOf(op.shape);
  const width = cols && last !== 1 ? cols[1] - cols[0] : last;
  return distinctRows(map, r0, n) * width * op.elem;
}

/** Steps of a pointwise (columns) or row-wise (rows) kernel. */
function* rowSteps(ins: readonly (StreamOperand | undefined)[], out: StreamOperand, g: TileGrid, tiles: number, columnPieces: boolean): Generator<StreamStep> {
  for (let t = 0; t < tiles; t++) {
    const { r0, n, c0, c1 } = tileAt(g, t);
    const cols = columnPieces ? ([c0, c1] as const) : undefined;
    const items = ins.flatMap((op) => (op?.staged ? [item(op.name, rowTileBytes(op, out.shape, r0, n, cols), op.elem)] : []));
    yield { items: [...items, item(out.name, n * (c1 - c0) * out.elem, out.elem)], output: 0, r0, n, c0, c1 };
  }
}

/** The matrix product's geometry: m rows per output matrix, k, n, and the columns of one block of b. */
export interface MatmulGeometry {
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly width: number;
  /** b holds one matrix for every output matrix. */
  readonly sameMatrix: boolean;
}

export function matmulGeometry(a: StreamOperand, b: StreamOperand, out: StreamOperand): MatmulGeometry {
  const m = out.shape[out.shape.length - 2]!, k = lastOf(a.shape), n = lastOf(out.shape);
  const elem = b.columnBytes !== undefined ? b.columnBytes / k : b.elem;
  return { m, k, n, width: weightBlockColumns(k, n, elem), sameMatrix: product(b.shape.slice(0, -2)) === 1 };
}

/** Bytes of a block of `columns` columns of a product's right operand, as stored. */
export const weightBlockBytes = (b: StreamOperand, k: number, columns: number): number =>
  b.columnBytes !== undefined ? b.columnBytes * columns : k * columns * b.elem;

/**
 * A product's operands as the matmul steps read them, [a, b, bias]: a product over
 * quantized weights streams its weight in blocks of output columns like any other,
 * at the weight's stored bytes (its scales and zero points are read from their tier).
 * MatMulNBits' packed B [N, blocks, blob] is a [K, N] operand a column of which is a
 * row of B; DequantMatMul's weight is [K, N] already. Other products: as they are.
 */
export function productOperands(op: string, ops: KernelOperands): KernelOperands {
  const [a, b] = ops.inputs;
  const out = ops.outputs[0];
  if (op === "com.microsoft.MatMulNBits" && a && b && out) {
    const weight: StreamOperand = { ...b, shape: [lastOf(a.shape), lastOf(out.shape)], columnBytes: product(b.shape.slice(1)) * b.elem, resident: false };
    return { inputs: [a, weight, ops.inputs[5]], outputs: ops.outputs };
  }
  if (op === "tierflow.DequantMatMul" && a && b) return { inputs: [a, { ...b, resident: false }, undefined], outputs: ops.outputs };
  return ops;
}

/** One step of a matrix product: rows [g0, g0 + nr) of one output matrix, block columns [cb0, cb1). */
export interface MatmulStep extends StreamStep {
  readonly g0: number;
  readonly nr: number;
  readonly cb0: number;
  readonly cb1: number;
}

/** Steps of a matrix product: per tile, per output matrix its rows span, per block of b's columns. */
export function* matmulSteps(a: StreamOperand, b: StreamOperand, bias: StreamOperand | undefined, out: StreamOperand, g: TileGrid, tiles: number): Generator<MatmulStep> {
  const geo = matmulGeometry(a, b, out);
  for (let t = 0; t < tiles; t++) {
    const { r0, n: rows, c0, c1 } = tileAt(g, t);
    for (let g0 = r0; g0 < r0 + rows;) {
      const g1 = geo.sameMatrix ? r0 + rows : Math.min(r0 + rows, (Math.floor(g0 / geo.m) + 1) * geo.m);
      for (let cb0 = c0; cb0 < c1; cb0 += geo.width) {
        const cb1 = Math.min(c1, cb0 + geo.width), nb = cb1 - cb0, nr = g1 - g0;
        const items = [
          item(a.name, rowTileBytes(a, out.shape, g0, nr, undefined), a.elem),
          item(`${b.name} block`, weightBlockBytes(b, geo.k, nb), b.elem),
          ...(bias?.staged ? [item(bias.name, rowTileBytes(bias, out.shape, g0, nr, [cb0, cb1]), bias.elem)] : []),
          item(out.name, nr * nb * out.elem, out.elem),
        ];
        yield { items, output: 0, r0, n: rows, c0, c1, g0, nr, cb0, cb1 };
      }
      g0 = g1;
    }
  }
}

/** Steps of a row gather: the index entries a tile's rows come from, and the tile. */
function* gatherSteps(data: StreamOperand, indices: StreamOperand, out: StreamOperand, g: TileGrid, tiles: number): Generator<StreamStep> {
  const slab = product(data.shape.slice(1, -1));
  for (let t = 0; t < tiles; t++) {
    const { r0, n, c0, c1 } = tileAt(g, t);
    const i0 = Math.floor(r0 / slab), i1 = Math.floor((r0 + n - 1) / slab) + 1;
    yield { items: [item(indices.name, (i1 - i0) * indices.elem, indices.elem), item(out.name, n * (c1 - c0) * out.elem, out.elem)], output: 0, r0, n, c0, c1 };
  }
}

/** Steps of data movement: each output in turn, each tile staging the elements it gathers and its result. */
function* mapSteps(moved: StreamOperand, outs: readonly StreamOperand[], tileShape: readonly number[], tiles: number): Generator<StreamStep> {
  let t = 0;
  for (let o = 0; o < outs.length && t < tiles; o++) {
    const out = outs[o]!;
    const g = tileGrid(out.shape, tileShape);
    if (!g) return;
    for (let i = 0; i < gridTiles(g) && t < tiles; i++, t++) {
      const { r0, n, c0, c1 } = tileAt(g, i);
      const count = n * (c1 - c0);
      yield { items: [item(`${moved.name} (gathered)`, count * moved.elem, moved.elem), item(out.name, count * out.elem, out.elem)], output: o, r0, n, c0, c1 };
    }
  }
}

/** The grouping of query heads onto key/value heads, and the mask's rows. */
export interface AttentionOperands {
  readonly q: StreamOperand;
  readonly k: StreamOperand;
  readonly v: StreamOperand;
  readonly mask: StreamOperand | undefined;
}

/** One step of fused attention: query rows [g0, g0 + nr) of one (batch, head). */
export interface AttentionStep extends StreamStep {
  readonly g0: number;
  readonly nr: number;
  /** Index of the (batch, head) pair: query head h of batch b is b * heads + h. */
  readonly head: number;
}

/** Steps of fused attention: per tile of query rows, per (batch, head) it spans, that head's keys and values whole. */
export function* attentionSteps(ops: AttentionOperands, out: StreamOperand, g: TileGrid, tiles: number): Generator<AttentionStep> {
  const { q, k, v, mask } = ops;
  const sq = q.shape[2]!, kv = k.shape[2]!;
  for (let t = 0; t < tiles; t++) {
    const { r0, n: rows, c0, c1 } = tileAt(g, t);
    for (let g0 = r0; g0 < r0 + rows;) {
      const head = Math.floor(g0 / sq), g1 = Math.min(r0 + rows, (head + 1) * sq), nr = g1 - g0;
      const items = [
        item(q.name, nr * lastOf(q.shape) * q.elem, q.elem),
        item(k.name, kv * lastOf(k.shape) * k.elem, k.elem),
        item(v.name, kv * lastOf(v.shape) * v.elem, v.elem),
        ...(mask?.staged ? [item(mask.name, rowTileBytes(mask, [...out.shape.slice(0, -1), kv], g0, nr, undefined), mask.elem)] : []),
        item(out.name, nr * lastOf(out.shape) * out.elem, out.elem),
      ];
      yield { items, output: 0, r0, n: rows, c0, c1, g0, nr, head };
      g0 = g1;
    }
  }
}

/**
 * Steps of an op over batch entries: entry t of its data (the first input) and of
 * each result; its other activations (not weights or constants) are staged whole.
 */
function* imageSteps(ins: readonly (StreamOperand | undefined)[], outs: readonly StreamOperand[], tiles: number): Generator<StreamStep> {
  const [data, ...rest] = ins;
  const perEntry = (o: StreamOperand) => product(o.shape.slice(1)) * o.elem;
  const others = [...new Map(rest.filter((o): o is StreamOperand => o !== undefined && o.staged && !o.resident && o.name !== data?.name).map((o) => [o.name, o])).values()];
  const fixed = others.map((o) => item(o.name, product(o.shape) * o.elem, o.elem));
  for (let t = 0; t < tiles; t++) {
    const items = [...(data?.staged ? [item(data.name, perEntry(data), data.elem)] : []), ...fixed, ...outs.map((r) => item(r.name, perEntry(r), r.elem))];
    yield { items, output: 0, r0: t, n: 1, c0: 0, c1: 0 };
  }
}

/** Steps of a KV cache append: tiles of the new rows, staged on their way into the cache in its tier. */
function* appendSteps(added: StreamOperand, g: TileGrid, tiles: number): Generator<StreamStep> {
  for (let t = 0; t < tiles; t++) {
    const { r0, n, c0, c1 } = tileAt(g, t);
    yield { items: [item(added.name, n * (c1 - c0) * added.elem, added.elem)], output: 0, r0, n, c0, c1 };
  }
}

/** What a whole-tensor kernel stages at once: its distinct activations and its results. */
export function wholeItems(ins: readonly (StreamOperand | undefined)[], outs: readonly StreamOperand[]): StagedItem[] {
  const staged = [...new Map(ins.filter((o): o is StreamOperand => o !== undefined && o.staged && !o.resident).map((o) => [o.name, o])).values()];
  return [...staged.map((o) => item(o.name, product(o.shape) * o.elem, o.elem)), ...outs.map((r) => item(r.name, product(r.shape) * r.elem, r.elem))];
}

/** The operands of one kernel as its stream kind reads them. */
export interface KernelOperands {
  readonly inputs: readonly (StreamOperand | undefined)[];
  readonly outputs: readonly StreamOperand[];
}

/**
 * Every step a kernel of `kind` with `tiling` takes, in order (a whole-tensor
 * kernel takes one). Kinds without device staging (none, link) take none.
 */
export function* streamSteps(kind: StreamKind, ops: KernelOperands, tileShape: readonly number[], tiles: number): Generator<StreamStep> {
  const out = ops.outputs[0];
  if (kind === "none" || kind === "link" || !out) return;
  if (kind === "whole") {
    yield { items: wholeItems(ops.inputs, ops.outputs), output: 0, r0: 0, n: 0, c0: 0, c1: 0 };
    return;
  }
  if (kind === "map") {
    const moved = ops.inputs.find((o) => o?.staged);
    if (moved) yield* mapSteps(moved, ops.outputs, tileShape, tiles);
    return;
  }
  if (kind === "images") {
    yield* imageSteps(ops.inputs, ops.outputs, tiles);
    return;
  }
  if (kind === "append") {
    const added = ops.inputs[1];
    const g = added ? tileGrid(added.shape, tileShape) : undefined;
    if (added && g) yield* appendSteps(added, g, tiles);
    return;
  }
  const g = tileGrid(out.shape, tileShape);
  if (!g) return;
  if (kind === "columns" || kind === "rows") yield* rowSteps(ops.inputs, out, g, tiles, kind === "columns");
  else if (kind === "matmul") yield* matmulSteps(ops.inputs[0]!, ops.inputs[1]!, ops.inputs[2], out, g, tiles);
  else if (kind === "gather") yield* gatherSteps(ops.inputs[0]!, ops.inputs[1]!, out, g, tiles);
  else if (kind === "attention") {
    const [q, k, v, mask] = ops.inputs;
    yield* attentionSteps({ q: q!, k: k!, v: v!, mask }, out, g, tiles);
  }
}

/** Bytes one step stages. */
export const stepBytes = (s: StreamStep): number => s.items.reduce((sum, i) => sum + i.bytes, 0);

/** A kernel's stage buffer: twice its largest step (double buffering), or a whole-tensor kernel's one step. */
export function stageBufferBytes(kind: StreamKind, ops: KernelOperands, tileShape: readonly number[], tiles: number): number {
  let largest = 0;
  for (const step of streamSteps(kind, ops, tileShape, tiles)) largest = Math.max(largest, stepBytes(step));
  return kind === "whole" ? largest : 2 * largest;
}

/** Tile shape and count for a kernel of `kind` with `tileRows` rows a tile, over its outputs (an append's: the rows it appends). */
export function tilingFor(kind: StreamKind, outputs: readonly (readonly number[])[], tileRows: number): { tileShape: number[]; tiles: number } {
  const out = outputs[0] ?? [];
  if (kind === "none") return { tileShape: [], tiles: 0 };
  if (kind === "whole") return { tileShape: [Math.max(1, product(leading(out))), lastOf(out)], tiles: 1 };
  // One batch entry a tile: [1, the rest of the output flattened].
  if (kind === "images") return { tileShape: [1, Math.max(1, product(out.slice(1)))], tiles: Math.max(1, out[0] ?? 1) };
  const wholeRows = kind === "rows" || kind === "attention" || kind === "append";
  const cols = wholeRows ? lastOf(out) : Math.min(Math.max(1, ...outputs.map(lastOf)), TILE_COLUMNS);
  const tileShape = [tileRows, Math.max(1, cols)];
  const shapes = kind === "map" ? outputs : [out];
  const tiles = shapes.reduce((s, shape) => s + gridTiles(tileGrid(shape, tileShape)!), 0);
  return { tileShape, tiles };
}

/** "tile 3 stages 4096 bytes (x 2048, y 2048), but ...": a step that does not fit its buffer. */
export function stageOverflow(who: string, step: number, items: readonly StagedItem[], buffer: { offset: number; bytes: number } | undefined, whole: boolean): string {
  const total = items.reduce((s, i) => s + i.bytes, 0);
  const list = items.map((i) => `${i.what} ${i.bytes}`).join(", ");
  if (!buffer) return `${who}: ${whole ? "it runs whole-tensor and" : `tile ${step}`} stages ${total} bytes (${list}), but the plan gives it no stage buffer in sram`;
  const range = `sram bytes ${buffer.offset}..${buffer.offset + buffer.bytes}`;
  return whole
    ? `${who}: it runs whole-tensor and stages ${total} bytes (${list}), but its stage buffer (${range}) holds ${buffer.bytes}`
    : `${who}: tile ${step} stages ${total} bytes (${list}), but its stage buffer (${range}) holds two tiles of ${Math.floor(buffer.bytes / 2)} bytes`;
}

/**
 * Why a kernel's tiling cannot run as `kind`, or undefined: no tile shape, rows
 * an op needs whole cut into pieces, a tile past the output's rows, or tiles that
 * do not write every element of each output exactly once.
 */
export function tilingProblem(kind: StreamKind, outs: readonly { readonly name: string; readonly shape: readonly number[] }[],
  tileShape: readonly number[], tiles: number, who: string, op: string): string | undefined {
  if (kind === "none" || kind === "link" || kind === "whole" || outs.length === 0) return undefined;
  const shown = `[${tileShape.join(", ")}]`;
  if (kind === "images") {
    const out = outs[0]!, batch = Math.max(1, out.shape[0] ?? 1);
    return tiles === batch ? undefined : `${who}: its tiling (${tiles} tiles of ${shown}) writes ${Math.min(tiles, batch)} of the ${batch} batch entries of '${out.name}'`;
  }
  const grids: TileGrid[] = [];
  for (const out of outs) {
    const g = tileGrid(out.shape, tileShape);
    if (!g) return `${who}: the plan gives it no tiling (tile shape ${shown})`;
    if (g.pieces > 1 && (kind === "rows" || kind === "attention" || kind === "append")) return `${who}: rows of ${g.last} cannot stream in pieces of ${g.cols} columns (${op} needs whole rows)`;
    grids.push(g);
    if (kind !== "map") break;
  }
  let t = 0;
  for (let o = 0; o < grids.length; o++) {
    const g = grids[o]!, out = outs[o]!;
    const own = o === grids.length - 1 ? tiles - t : Math.min(gridTiles(g), tiles - t);
    let covered = 0;
    for (let i = 0; i < own; i++, t++) {
      const { r0, n, c0, c1 } = tileAt(g, i);
      if (r0 >= g.rows && g.rows > 0) return `${who}: tile ${t} starts at row ${r0}, past the ${g.rows} rows of '${out.name}'`;
      covered += n * (c1 - c0);
    }
    if (covered !== g.rows * g.last) return `${who}: its tiling (${tiles} tiles of ${shown}) writes ${covered} of the ${g.rows * g.last} elements of '${out.name}'`;
  }
  return undefined;
}
