// Reference kernels of the data movement ops (ir/graph/ops/data.ts): Transpose,
// Concat, Split, Slice, the Gather/Scatter family, Range, Trilu and CumSum.

import type { Tensor } from "../../../ir/tensor.js";
import { makeTensor, valuesAsNumbers } from "../../../ir/tensor.js";
import { intAttr, intsAttr, normalizeAxis, stringAttr } from "../../../ir/graph/ops/util.js";
import { checkSplitSizes, splitSizes } from "../../../ir/graph/ops/data.js";
import {
  concatKernel, gatherElementsKernel, gatherKernel, gatherNDKernel, rangeKernel, scatterElementsKernel, scatterNDKernel, sliceKernel,
  splitKernel, stridesOf, transposeKernel, triluKernel,
} from "../kernels/layout.js";
import type { OpKernel } from "./op-kernel.js";

function cumsum(x: Tensor, axis: number, exclusive: boolean, reverse: boolean): Tensor {
  const out = makeTensor(x.dtype, x.dims);
  const strides = stridesOf(x.dims);
  const len = x.dims[axis]!, stride = strides[axis]!;
  const big = x.data instanceof BigInt64Array;
  for (let base = 0; base < x.data.length; base++) {
    if (Math.floor(base / stride) % len !== 0) continue; // visit each line along `axis` once
    let acc: number | bigint = big ? 0n : 0;
    for (let k = 0; k < len; k++) {
      const j = reverse ? len - 1 - k : k;
      const at = base + j * stride;
      const v = x.data[at]!;
      if (exclusive) { (out.data as unknown as (number | bigint)[])[at] = acc; acc = (acc as number) + (v as number); }
      else { acc = (acc as number) + (v as number); (out.data as unknown as (number | bigint)[])[at] = acc; }
    }
  }
  return out;
}

export const DATA_KERNELS: Readonly<Record<string, OpKernel>> = {
  Transpose: ([x], { attrs }) => [transposeKernel(x!, intsAttr(attrs, "perm") ?? [...Array(x!.dims.length).keys()].reverse())],
  Concat: (inputs, { attrs }) => {
    const ts = inputs as Tensor[];
    return [concatKernel(ts, normalizeAxis(intAttr(attrs, "axis", 0), ts[0]!.dims.length))];
  },
  Split: ([x, split], { attrs, outputCount }) => {
    const axis = normalizeAxis(intAttr(attrs, "axis", 0), x!.dims.length);
    const explicit = intsAttr(attrs, "split") ?? (split ? valuesAsNumbers(split) : undefined);
    if (explicit) checkSplitSizes(explicit, x!.dims[axis]!, outputCount);
    const sizes = splitSizes(x!.dims[axis]!, outputCount, explicit ? [...explicit] : undefined, { fresh: () => "" });
    return splitKernel(x!, axis, sizes as number[]);
  },
  Slice: ([x, starts, ends, axes, steps]) => {
    const s = valuesAsNumbers(starts!);
    const rank = x!.dims.length;
    return [sliceKernel(x!, {
      starts: s, ends: valuesAsNumbers(ends!),
      axes: (axes ? valuesAsNumbers(axes) : s.map((_, i) => i)).map((a) => normalizeAxis(a, rank)),
      steps: steps ? valuesAsNumbers(steps) : s.map(() => 1),
    })];
  },
  Gather: ([data, indices], { attrs }) =>
    [gatherKernel(data!, indices!, normalizeAxis(intAttr(attrs, "axis", 0), data!.dims.length))],
  GatherElements: ([data, indices], { attrs }) =>
    [gatherElementsKernel(data!, indices!, normalizeAxis(intAttr(attrs, "axis", 0), data!.dims.length))],
  GatherND: ([data, indices], { attrs }) => [gatherNDKernel(data!, indices!, intAttr(attrs, "batch_dims", 0))],
  ScatterND: ([d, i, u], { attrs }) => [scatterNDKernel(d!, i!, u!, stringAttr(attrs, "reduction", "none"))],
  ScatterElements: ([d, i, u], { attrs }) =>
    [scatterElementsKernel(d!, i!, u!, normalizeAxis(intAttr(attrs, "axis", 0), d!.dims.length), stringAttr(attrs, "reduction", "none"))],
  Range: ([s, l, d]) => [rangeKernel(s!.dtype, s!.data[0]!, l!.data[0]!, d!.data[0]!)],
  Trilu: ([x, k], { attrs }) => [triluKernel(x!, k ? Number(k.data[0]!) : 0, intAttr(attrs, "upper", 1) === 1)],
  CumSum: ([x, axis], { attrs }) => [cumsum(x!, normalizeAxis(Number(axis!.data[0]!), x!.dims.length),
    intAttr(attrs, "exclusive", 0) === 1, intAttr(attrs, "reverse", 0) === 1)],
};
