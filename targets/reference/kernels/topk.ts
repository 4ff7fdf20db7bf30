// TopK along one axis: the k largest (or smallest) values and their int64
// indices. Equal values keep the lower index first, as onnxruntime does. A NaN
// ranks above every number (numpy's sort order), so it leads the largest and
// trails the smallest. Results are always sorted: with sorted=0 the spec
// leaves the order open, so sorted order is a valid answer.

import { fail } from "../../../ir/diagnostics.js";
import type { Tensor } from "../../../ir/tensor.js";
import { makeTensor } from "../../../ir/tensor.js";
import { normalizeAxis } from "../../../ir/graph/ops/util.js";
import { sizeOf } from "./common.js";

export function topkKernel(x: Tensor, kTensor: Tensor, axisAttr: number, largest: boolean): Tensor[] {
  if (x.dtype === "bool" || x.dtype === "str") fail(`TopK is not defined for ${x.dtype}`);
  if (kTensor.data.length !== 1) fail(`TopK K must hold one value, got ${kTensor.data.length}`);
  const axis = normalizeAxis(axisAttr, x.dims.length);
  const n = x.dims[axis]!, k = Number(kTensor.data[0]!);
  if (!Number.isInteger(k) || k < 0 || k > n) fail(`TopK K=${k} is out of range [0, ${n}]`);
  const dims = x.dims.map((d, i) => (i === axis ? k : d));
  const values = makeTensor(x.dtype, dims), indices = makeTensor("i64", dims);
  const outer = sizeOf(x.dims, 0, axis), inner = sizeOf(x.dims, axis + 1);
  const xd = x.data as ArrayLike<number | bigint>, vd = values.data as { [i: number]: number | bigint };
  const id = indices.data as BigInt64Array;
  const row = new Array<number | bigint>(n), order = new Array<number>(n);
  // Rank as `largest` asks, NaN as the greatest value, ties by index.
  const before = (a: number, b: number): number => {
    const va = row[a]!, vb = row[b]!;
    const nanA = va !== va, nanB = vb !== vb;
    if (nanA || nanB) {
      if (nanA && nanB) return a - b;
      return (nanA ? -1 : 1) * (largest ? 1 : -1);
    }
    if (va === vb) return a - b;
    return (va > vb ? -1 : 1) * (largest ? 1 : -1);
  };
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * n * inner + i;
      for (let j = 0; j < n; j++) { row[j] = xd[base + j * inner]!; order[j] = j; }
      order.sort(before);
      for (let j = 0; j < k; j++) {
        const dst = o * k * inner + j * inner + i;
        vd[dst] = row[order[j]!]!;
        id[dst] = BigInt(order[j]!);
      }
    }
  }
  return [values, indices];
}
