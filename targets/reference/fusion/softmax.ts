// The scaled, masked Softmax fusion (targets/reference/kernels/scaled-softmax.ts).

import type { Tensor } from "../../../ir/tensor.js";
import { scaledMaskedSoftmax } from "../kernels/scaled-softmax.js";
import type { Fusion, Kernel } from "./match.js";
import { soleOp } from "./match.js";

export const scaledSoftmax: Fusion = {
  name: "scaled-masked-softmax",
  match(graph, i, uses, steps) {
    const softmax = steps[i]!;
    if (softmax.node.op !== "Softmax" || softmax.node.domain) return undefined;
    const scaling = (value: string) => soleOp(graph, value, "Mul", uses, steps) ?? soleOp(graph, value, "Div", uses, steps);
    const add = soleOp(graph, softmax.node.inputs[0]!, "Add", uses, steps);
    // With an Add, the scaled scores are whichever of its operands a Mul or Div writes.
    const addInputs = add?.[1].node.inputs ?? [];
    const scaledAt = addInputs.findIndex((v) => scaling(v));
    const scaled = scaling(add ? addInputs[scaledAt] ?? "" : softmax.node.inputs[0]!);
    if (!scaled || (add && addInputs[0] === addInputs[1])) return undefined;
    const [sIndex, sStep] = scaled, op = sStep.node.op as "Mul" | "Div";
    const [a, b] = sStep.node.inputs as [string, string];
    if (a === b) return undefined;
    const mask = add ? addInputs[1 - scaledAt]! : undefined;
    // Mul's scale may come first (x * s = s * x, bit for bit); Div's is the divisor.
    const kernel: Kernel = (args, ctx) => {
      const [u, v, m] = args as [Tensor, Tensor, Tensor | undefined];
      const pairs: [Tensor, Tensor][] = op === "Mul" ? [[u, v], [v, u]] : [[u, v]];
      for (const [x, scale] of pairs) {
        const fused = scaledMaskedSoftmax(x, op, scale, m, softmax.ctx.attrs, softmax.ctx.opset);
        if (fused) return [fused];
      }
      let t = sStep.kernel([u, v], sStep.ctx)[0]!;
      if (add) t = add[1].kernel(scaledAt === 0 ? [t, m] : [m, t], add[1].ctx)[0]!;
      return softmax.kernel([t], ctx);
    };
    const inputs = mask === undefined ? [a, b] : [a, b, mask];
    return { absorbs: add ? [sIndex, add[0]] : [sIndex], step: { node: softmax.node, inputs, kernel, ctx: softmax.ctx } };
  },
};
