// Reference kernels of the reductions, TopK and ArgMax/ArgMin (ir/graph/ops/reduce.ts).

import { fail } from "../../../ir/diagnostics.js";
import { intAttr, normalizeAxis } from "../../../ir/graph/ops/util.js";
import { reduceAxes } from "../../../ir/graph/ops/reduce.js";
import { argKernel, reduceKernel } from "../kernels/reduce.js";
import type { ReduceOp } from "../kernels/reduce.js";
import { topkKernel } from "../kernels/topk.js";
import type { OpKernel } from "./op-kernel.js";

function reduce(op: ReduceOp): OpKernel {
  return ([x, axes], { attrs }) => {
    const literal = axes && { type: undefined, value: axes, symbolic: undefined };
    const known = reduceAxes({ attrs, inputs: [undefined, literal] }, x!.dims.length);
    if (known === "runtime") fail("reduction axes are not known"); // unreachable: a tensor's values are known
    return [reduceKernel(op, x!, known,
      intAttr(attrs, "keepdims", 1) === 1, intAttr(attrs, "noop_with_empty_axes", 0) === 1)];
  };
}

const arg = (op: "ArgMax" | "ArgMin"): OpKernel => ([x], { attrs }) => [argKernel(op === "ArgMax", x!, normalizeAxis(intAttr(attrs, "axis", 0), x!.dims.length),
  intAttr(attrs, "keepdims", 1) === 1, intAttr(attrs, "select_last_index", 0) === 1)];

const REDUCE: readonly ReduceOp[] = ["ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd"];

export const REDUCE_KERNELS: Readonly<Record<string, OpKernel>> = {
  ...Object.fromEntries(REDUCE.map((op) => [op, reduce(op)])),
  TopK: ([x, k], { attrs }) => topkKernel(x!, k!, intAttr(attrs, "axis", -1), intAttr(attrs, "largest", 1) === 1),
  ArgMax: arg("ArgMax"),
  ArgMin: arg("ArgMin"),
};
