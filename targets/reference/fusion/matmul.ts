// Fusions into a MatMul: a gathered A (mixture-of-experts weights), a bias
// Add after it, and Transposes of its operands.

import type { Tensor } from "../../../ir/tensor.js";
import { intAttr } from "../../../ir/graph/ops/util.js";
import { gatherMatmulKernel } from "../kernels/gather-matmul.js";
import { matmulAndBias } from "../kernels/matmul.js";
import type { Fusion, Kernel } from "./match.js";
import { matmulOfViews, soleOp, soleProducer } from "./match.js";

export const gatherMatmul: Fusion = {
  name: "gather-matmul",
  match(graph, i, uses, steps) {
    const mm = steps[i]!;
    if (mm.node.op !== "MatMul" || mm.node.domain) return undefined;
    const a = mm.node.inputs[0]!, found = soleProducer(graph, a, uses, steps);
    if (!found || mm.node.inputs[1] === a) return undefined;
    const [g, gather] = found, nd = gather.node.op === "GatherND";
    if (nd ? intAttr(gather.node.attrs, "batch_dims", 0) !== 0 : gather.node.op !== "Gather" || intAttr(gather.node.attrs, "axis", 0) !== 0) return undefined;
    const [table, indices] = gather.node.inputs as [string, string];
    const kernel: Kernel = (args, ctx) => {
      const [t, idx, b] = args as [Tensor, Tensor, Tensor];
      const fused = gatherMatmulKernel(t, idx, b, nd);
      if (fused) return [fused];
      return mm.kernel([gather.kernel([t, idx], gather.ctx)[0], b], ctx);
    };
    return { absorbs: [g], step: { node: mm.node, inputs: [table, indices, mm.node.inputs[1]!], kernel, ctx: mm.ctx } };
  },
};

export const matmulBias: Fusion = {
  name: "matmul-bias",
  match(graph, i, uses, steps) {
    const add = steps[i]!;
    if (add.node.op !== "Add" || add.node.domain || add.node.inputs[0] === add.node.inputs[1]) return undefined;
    const at = add.node.inputs.findIndex((v) => soleOp(graph, v, "MatMul", uses, steps));
    const mm = at < 0 ? undefined : soleOp(graph, add.node.inputs[at]!, "MatMul", uses, steps);
    if (!mm || mm[1].node.domain || !graph.constants.has(add.node.inputs[1 - at]!)) return undefined; // a layer's bias is a weight
    const kernel: Kernel = (args) => {
      const [a, b, bias] = args as [Tensor, Tensor, Tensor];
      const { out, added } = matmulAndBias(a, b, bias);
      return added ? [out] : add.kernel(at === 0 ? [out, bias] : [bias, out], add.ctx);
    };
    return { absorbs: [mm[0]], step: { node: add.node, inputs: [...mm[1].node.inputs, add.node.inputs[1 - at]!], kernel, ctx: add.ctx, label: "MatMul" } };
  },
};

export const transposeMatmul: Fusion = {
  name: "transpose-matmul",
  match(graph, i, uses, steps) {
    const mm = steps[i]!;
    if (mm.node.op !== "MatMul" || mm.node.domain || mm.node.inputs[0] === mm.node.inputs[1]) return undefined;
    const transposes = mm.node.inputs.map((v) => soleOp(graph, v, "Transpose", uses, steps));
    if (!transposes.some((t) => t)) return undefined;
    const transposeSteps = transposes.map((t) => t?.[1]);
    const kernel: Kernel = (args) => [matmulOfViews(mm, args as Tensor[], transposeSteps)];
    const inputs = mm.node.inputs.map((v, k) => transposes[k]?.[1].node.inputs[0] ?? v);
    return { absorbs: transposes.flatMap((t) => (t ? [t[0]] : [])), step: { node: mm.node, inputs, kernel, ctx: mm.ctx } };
  },
};
