// A linear layer with bias: MatMul(x, W) + b, b a vector over the output's last
// axis -> tierflow.MatMulBias(x, W, b). W and b must be constants (weights), so
// score products inside attention (MatMul of two activations) never match.
// The reference interpreter's form of the same idiom (MATMUL_ADD): any constant
// addend, either way round -> tierflow.exact.MatMulAdd, which the GEMM adds as
// it writes each tile where it can.

import type { Node } from "../graph.js";
import { EXACT_DOMAIN } from "../ops/exact.js";
import type { Matcher } from "./pattern.js";
import { definePattern, fusedNode } from "./pattern.js";

interface BiasBindings { x: string; w: string; b: string; biasFirst: boolean }

/** MatMul(x, w) + b, the product either operand of the Add, b accepted by `fits`. */
export function productPlusBias(m: Matcher, root: Node, fits: (product: string, b: string, w: string) => boolean): BiasBindings | undefined {
  return m.commute(root, (product, b) => {
    const matmul = m.def(product, "MatMul");
    const [x, w] = (matmul?.inputs ?? []) as [string, string];
    return matmul && fits(product, b, w) ? { x, w, b, biasFirst: root.inputs[1] === product } : undefined;
  });
}

export const MATMUL_BIAS = definePattern<BiasBindings>({
  name: "MatMulBias", root: "Add",
  match(root, m) {
    return productPlusBias(m, root, (product, b, w) => {
      const out = m.shape(product), bias = m.shape(b);
      const fits = bias?.length === 1 && out !== undefined && out.length > 0 && bias[0] === out[out.length - 1];
      const dtype = m.type(product)?.dtype;
      return fits && m.isConstant(w) && m.isConstant(b) && m.type(b)?.dtype === dtype;
    });
  },
  build: ({ x, w, b }, root) => [fusedNode(root, "MatMulBias", [x, w, b])],
});

/** The interpreter's: a constant addend of any shape (a layer's bias is a weight), named as profiles call the step. */
export const MATMUL_ADD = definePattern<BiasBindings>({
  name: "MatMul", root: "Add",
  match(root, m) {
    if (root.inputs[0] === root.inputs[1]) return undefined;
    return productPlusBias(m, root, (_, b) => m.isConstant(b));
  },
  build: ({ x, w, b, biasFirst }, root) =>
    [fusedNode(root, "MatMulAdd", [x, w, b], { c_first: { type: "int", value: biasFirst ? 1 : 0 } }, { domain: EXACT_DOMAIN })],
});
