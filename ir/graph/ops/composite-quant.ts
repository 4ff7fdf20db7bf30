// A linear layer over quantized weights as a QDQ export writes it:
// MatMul(x, DequantizeLinear(w, scale, zero_point)), with w an int8/uint8/
// int4/uint4 weight. Fusion makes it one node, so the plan keeps the weight at
// its quantized bytes and the product reads them, dequantizing on the way
// (onnxruntime's MatMulNBits is the same idea in its own packing). See composite.ts.

import type { OpDef } from "../op-def.js";
import { addDims, mulDims } from "../../symbolic.js";
import { FLOATS, checkDType, inputType, intAttr, numel } from "./util.js";
import { matmulShape } from "./nn.js";
import { Decomposition, attr, defineComposite, lookupPrimitive } from "./decompose.js";

const DEQUANT_MATMUL = defineComposite({
  op: "DequantMatMul", inputs: [3, 4],
  doc: `DequantMatMul(x, w, scale, zero_point?) = MatMul(x, DequantizeLinear(w, scale, zero_point)) with DequantizeLinear's
  axis and block_size: a linear layer whose weight stays quantized (int8, uint8, int4, uint4) until the product reads it.
  %y = "tierflow".DequantMatMul(%x, %wq, %scale, %zp) {axis = 0, block_size = 32} : f32[batch, seq, 256]`,
  attrs: { axis: { type: "int", default: 1 }, block_size: { type: "int", default: 0 } },
  infer(ctx) {
    const x = inputType(ctx, 0, "X");
    checkDType(x.dtype, FLOATS, "X");
    // The weight as DequantizeLinear gives it: its checks and its dtype (the scale's).
    const dq = lookupPrimitive("DequantizeLinear").infer({ ...ctx, inputs: ctx.inputs.slice(1), outputCount: 1 }).types[0]!;
    if (dq.dtype !== x.dtype) checkDType(dq.dtype, [x.dtype], "the dequantized weight");
    return { types: [{ dtype: x.dtype, shape: x.shape && dq.shape ? matmulShape(x.shape, dq.shape) : null }] };
  },
  cost: ([x, w], [out]) => {
    if (!x?.shape || !w?.shape || !out?.shape || x.shape.length === 0) return { flops: 0 };
    // The product's multiply-adds, and a subtract and a multiply to dequantize each weight.
    return { flops: addDims(mulDims(2, mulDims(numel(out.shape), x.shape[x.shape.length - 1]!)), mulDims(2, numel(w.shape))) };
  },
  decompose(node) {
    const d = new Decomposition(node);
    const [x, w, scale, zp] = node.inputs as [string, string, string, string | undefined];
    const weight = d.one("DequantizeLinear", zp ? [w, scale, zp] : [w, scale], {
      axis: attr.int(intAttr(node.attrs, "axis", 1)), block_size: attr.int(intAttr(node.attrs, "block_size", 0)),
    });
    d.result(0, "MatMul", [x, weight]);
    return d.nodes;
  },
});

export const QUANT_COMPOSITE_OPS: readonly OpDef[] = [DEQUANT_MATMUL];
