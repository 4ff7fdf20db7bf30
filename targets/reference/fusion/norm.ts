// The RMS normalisation fusion (targets/reference/kernels/rms-norm.ts).

import type { Tensor } from "../../../ir/tensor.js";
import { intAttr, intsAttr, normalizeAxis } from "../../../ir/graph/ops/util.js";
import { rmsNorm as rmsNormKernel } from "../kernels/rms-norm.js";
import type { Fusion, Kernel, Step } from "./match.js";
import { floatCasts, soleOp } from "./match.js";

/** ReduceMean over the last axis only, keeping it: its axes attribute (before opset 18) or input (from 18), checked when run. */
function lastAxisMean(mean: Step, axes: Tensor | undefined, rank: number): boolean {
  if (intAttr(mean.ctx.attrs, "keepdims", 1) !== 1) return false;
  const list = axes ? Array.from(axes.data, Number) : intsAttr(mean.ctx.attrs, "axes");
  return list !== undefined && list.length === 1 && normalizeAxis(list[0]!, rank) === rank - 1;
}

export const rmsNorm: Fusion = {
  name: "rms-norm",
  match(graph, i, uses, steps) {
    const last = steps[i]!;
    if (last.node.op !== "Mul" || last.node.domain || last.node.inputs[0] === last.node.inputs[1]) return undefined;
    for (const at of [0, 1]) {
      const cast = floatCasts(graph, last.node.inputs[at]!, uses, steps);
      const scaled = cast && soleOp(graph, cast.from, "Mul", uses, steps);
      if (!scaled) continue;
      for (const xAt of [0, 1]) {
        const x = scaled[1].node.inputs[xAt]!, rValue = scaled[1].node.inputs[1 - xAt]!;
        const recip = soleOp(graph, rValue, "Reciprocal", uses, steps) ?? soleOp(graph, rValue, "Div", uses, steps);
        const isDiv = recip?.[1].node.op === "Div";
        const sqrt = recip && soleOp(graph, recip[1].node.inputs[isDiv ? 1 : 0]!, "Sqrt", uses, steps);
        const add = sqrt && soleOp(graph, sqrt[1].node.inputs[0]!, "Add", uses, steps);
        if (!add || (isDiv && recip[1].node.inputs[0] === recip[1].node.inputs[1])) continue;
        const meanAt = add[1].node.inputs.findIndex((v) => soleOp(graph, v, "ReduceMean", uses, steps));
        const mean = meanAt < 0 ? undefined : soleOp(graph, add[1].node.inputs[meanAt]!, "ReduceMean", uses, steps);
        const pow = mean && soleOp(graph, mean[1].node.inputs[0]!, "Pow", uses, steps);
        if (!pow || pow[1].node.inputs[0] !== x || add[1].node.inputs[0] === add[1].node.inputs[1]) continue;
        const parts = [pow, mean!, add, sqrt, recip, scaled, ...cast.casts];
        const inputs = [x, pow[1].node.inputs[1]!, mean![1].node.inputs[1] ?? "", add[1].node.inputs[1 - meanAt]!, isDiv ? recip[1].node.inputs[0]! : "", last.node.inputs[1 - at]!];
        const kernel: Kernel = (args) => {
          const [xs, exponent, axes, eps, one, weight] = args as [Tensor, Tensor, Tensor | undefined, Tensor, Tensor | undefined, Tensor];
          const fused = lastAxisMean(mean![1], axes, xs.dims.length) ? rmsNormKernel(xs, exponent, eps, one, weight) : undefined;
          if (fused) return [fused];
          const one1 = (step: Step, operands: (Tensor | undefined)[]) => step.kernel(operands, step.ctx)[0]!;
          const squares = one1(pow[1], [xs, exponent]);
          const m = one1(mean![1], mean![1].node.inputs.length > 1 ? [squares, axes] : [squares]);
          const a = one1(add[1], meanAt === 0 ? [m, eps] : [eps, m]);
          const sq = one1(sqrt[1], [a]);
          const r = one1(recip[1], isDiv ? [one, sq] : [sq]);
          let y = one1(scaled[1], xAt === 0 ? [xs, r] : [r, xs]);
          for (const [, c] of cast.casts) y = one1(c, [y]);
          return [one1(last, at === 0 ? [y, weight] : [weight, y])];
        };
        return { absorbs: parts.map((p) => p[0]), step: { node: last.node, inputs, kernel, ctx: last.ctx, label: "RMSNorm" } };
      }
    }
    return undefined;
  },
};
