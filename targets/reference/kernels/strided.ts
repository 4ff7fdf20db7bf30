// Loops over strided views, for the elementwise kernels (pointwise.ts) and the
// copies of layout.ts. A view of shape `dims` reads element (i0, i1, ...) at
// offset + sum(ik * strides[k]); several views walked together (the operands
// and the output of a broadcast, or a source and a destination) are first
// collapsed: axes of size 1 are dropped and neighbouring axes that every view
// walks as one are merged, so the common cases (same shape, a scalar, a bias
// row, a per-channel column, a transposed pair of axes) become a few rows of
// one long run.
//
// The loop nest around the rows is compiled with `new Function` from a template,
// once per kernel and per combination of storage types (see pointwise.ts for why),
// so the row code, its element loads and stores, and the loops around it form one
// function that V8 optimises as a unit.

/** Collapsed iteration space: outer extents (outermost first) around an inner run of n. */
export interface StridedPlan {
  /** Product of all extents; 0 when any is 0. */
  readonly count: number;
  readonly n: number;
  /** Each view's step along the inner run. */
  readonly steps: readonly number[];
  /** Outer extents, at least two (padded with 1s in front). */
  readonly outer: readonly number[];
  /** Each view's strides on the outer axes (same length as outer). */
  readonly strides: readonly (readonly number[])[];
}

export function collapseStrides(dims: readonly number[], views: readonly (readonly number[])[]): StridedPlan {
  let count = 1;
  for (const d of dims) count *= d;
  const extents: number[] = [];
  const strides: number[][] = views.map(() => []);
  for (let axis = 0; axis < dims.length; axis++) {
    const d = dims[axis]!;
    if (d === 1) continue;
    const last = extents.length - 1;
    if (last >= 0 && views.every((st, k) => strides[k]![last] === st[axis]! * d)) {
      extents[last]! *= d;
      views.forEach((st, k) => (strides[k]![last] = st[axis]!));
    } else {
      extents.push(d);
      views.forEach((st, k) => strides[k]!.push(st[axis]!));
    }
  }
  const n = extents.pop() ?? 1;
  const steps = strides.map((st) => st.pop() ?? 0);
  while (extents.length < 2) {
    extents.unshift(1);
    for (const st of strides) st.unshift(0);
  }
  return { count, n, steps, outer: extents, strides };
}

/** Row-major strides of dims. */
export function contiguousStrides(dims: readonly number[]): number[] {
  const strides = new Array<number>(dims.length);
  let s = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= dims[i]!;
  }
  return strides;
}

/**
 * For each index t of `batch` (row-major), the offset of an operand whose batch axes `own`
 * (right-aligned to batch, 1 where it repeats) have `strides`.
 */
export function batchOffsets(batch: readonly number[], own: readonly number[], strides: readonly number[]): number[] {
  const lead = batch.length - own.length, count = batch.reduce((p, d) => p * d, 1), result = new Array<number>(count);
  for (let t = 0; t < count; t++) {
    let rest = t, offset = 0;
    for (let axis = batch.length - 1; axis >= 0; axis--) {
      const i = rest % batch[axis]!;
      rest = (rest - i) / batch[axis]!;
      const mine = axis - lead;
      if (mine >= 0 && own[mine] !== 1) offset += i * strides[mine]!;
    }
    result[t] = offset;
  }
  return result;
}

/** Strides of a tensor of `dims` broadcast to `outDims` (0 along repeated axes). */
export function broadcastStrides(dims: readonly number[], outDims: readonly number[]): number[] {
  const rank = outDims.length, st = new Array<number>(rank).fill(0);
  let stride = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    st[rank - dims.length + i] = dims[i] === 1 ? 0 : stride;
    stride *= dims[i]!;
  }
  return st;
}

/**
 * Source of a function `(ext, n, v0, v0Offset, v0Strides, v0Step, v1, ...)` that runs
 * `row` for every row of a StridedPlan. In `row`, view `v` is the data array,
 * `vi` its offset at the row's start and `sv` its step along the row; n is the row length.
 */
export function stridedLoopSource(name: string, views: readonly string[], row: string): string {
  const params = ["ext", "n", ...views.flatMap((v) => [v, `${v}0`, `${v}st`, `s${v}`])].join(", ");
  const each = (f: (v: string) => string, sep = " ") => views.map(f).join(sep);
  return `"use strict";
return function ${name}(${params}) {
  const R = ext.length, e1 = ext[R - 1], e2 = ext[R - 2];
  ${each((v) => `const ${v}1 = ${v}st[R - 1], ${v}2 = ${v}st[R - 2];`)}
  let rest = 1;
  for (let k = 0; k < R - 2; k++) rest *= ext[k];
  const counter = R > 2 ? new Int32Array(R - 2) : null;
  ${each((v) => `let ${v}b = ${v}0;`)}
  for (let r = 0; r < rest; r++) {
    for (let i2 = 0, ${each((v) => `${v}r = ${v}b`, ", ")}; i2 < e2; i2++, ${each((v) => `${v}r += ${v}2`, ", ")}) {
      for (let i1 = 0, ${each((v) => `${v}i = ${v}r`, ", ")}; i1 < e1; i1++, ${each((v) => `${v}i += ${v}1`, ", ")}) {
${row}
      }
    }
    if (counter === null) continue;
    for (let k = R - 3; k >= 0; k--) {
      ${each((v) => `${v}b += ${v}st[k];`)}
      if (++counter[k] < ext[k]) break;
      ${each((v) => `${v}b -= ${v}st[k] * ext[k];`)}
      counter[k] = 0;
    }
  }
};`;
}
