// Reference kernels of Tile and OneHot (ir/graph/ops/repeat.ts).

import { fail } from "../../../ir/diagnostics.js";
import type { Tensor } from "../../../ir/tensor.js";
import { makeTensor, valuesAsNumbers } from "../../../ir/tensor.js";
import { intAttr, normalizeAxis } from "../../../ir/graph/ops/util.js";
import { copyStrided, stridesOf } from "../kernels/layout.js";
import type { OpKernel } from "./op-kernel.js";

type Writable = { [i: number]: number | bigint };

function tile(x: Tensor, repeats: readonly number[]): Tensor {
  if (repeats.length !== x.dims.length) fail(`Tile repeats has ${repeats.length} entries for rank ${x.dims.length}`);
  if (repeats.some((r) => r < 0)) fail("Tile repeats must be non-negative");
  const dims = x.dims.map((d, i) => d * repeats[i]!);
  const out = makeTensor(x.dtype, dims);
  // The output as [r0, d0, r1, d1, ...]: the source repeats (stride 0) along each r axis.
  const inStrides = stridesOf(x.dims), outStrides = stridesOf(dims);
  const split = x.dims.flatMap((d, i) => [repeats[i]!, d]);
  const srcStrides = x.dims.flatMap((_, i) => [0, inStrides[i]!]);
  const dstStrides = x.dims.flatMap((d, i) => [d * outStrides[i]!, outStrides[i]!]);
  copyStrided(split, x.data, 0, srcStrides, out.data, 0, dstStrides);
  return out;
}

function oneHot(indices: Tensor, depthT: Tensor, values: Tensor, axisAttr: number): Tensor {
  const depth = Math.trunc(Number(depthT.data[0]!));
  if (depth < 1) fail(`OneHot depth ${depth} must be positive`);
  const rank = indices.dims.length + 1;
  const axis = normalizeAxis(axisAttr, rank);
  const dims = [...indices.dims.slice(0, axis), depth, ...indices.dims.slice(axis)];
  const out = makeTensor(values.dtype, dims);
  const off = values.data[0]!, on = values.data[1]!;
  (out.data as unknown as { fill(v: number | bigint): void }).fill(off);
  const inner = indices.dims.slice(axis).reduce((p, d) => p * d, 1);
  for (let i = 0; i < indices.data.length; i++) {
    let k = Number(indices.data[i]!);
    if (k < 0) k += depth;
    if (k < 0 || k >= depth) continue; // out of range: all off, as the spec says
    const outer = Math.floor(i / inner), rest = i % inner;
    (out.data as Writable)[(outer * depth + k) * inner + rest] = on;
  }
  return out;
}

export const REPEAT_KERNELS: Readonly<Record<string, OpKernel>> = {
  Tile: ([x, repeats]) => [tile(x!, valuesAsNumbers(repeats!))],
  OneHot: ([indices, depth, values], { attrs }) => [oneHot(indices!, depth!, values!, intAttr(attrs, "axis", -1))],
};
