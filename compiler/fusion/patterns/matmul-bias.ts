// A linear layer with bias: MatMul(x, W) + b, b a vector over the output's last
// axis -> tierflow.MatMulBias(x, W, b). W and b must be constants (weights), so
// score products inside attention (MatMul of two activations) never match.

import { definePattern, fusedNode } from "../pattern.js";

export const MATMUL_BIAS = definePattern<{ x: string; w: string; b: string }>({
  name: "MatMulBias", root: "Add",
  match(root, m) {
    return m.commute(root, (product, b) => {
      const matmul = m.def(product, "MatMul");
      const [x, w] = (matmul?.inputs ?? []) as [string, string];
      const out = m.shape(product), bias = m.shape(b);
      const fits = bias?.length === 1 && out !== undefined && out.length > 0 && bias[0] === out[out.length - 1];
      const dtype = m.type(product)?.dtype;
      return matmul && fits && m.isConstant(w) && m.isConstant(b) && m.type(b)?.dtype === dtype ? { x, w, b } : undefined;
    });
  },
  build: ({ x, w, b }, root) => [fusedNode(root, "MatMulBias", [x, w, b])],
});
