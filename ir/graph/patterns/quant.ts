// A linear layer over a quantized weight, as QDQ exports write it:
// MatMul(x, DequantizeLinear(w, scale, zero_point)) with w, scale and zero
// point constants (weights) -> tierflow.DequantMatMul(x, w, scale, zero_point),
// so the weight is planned and read at its quantized bytes. A DequantizeLinear
// of an activation (a quantized activation's round trip) is left alone.

import { attrInt } from "../graph.js";
import { definePattern, fusedNode } from "./pattern.js";

interface Bindings { x: string; w: string; scale: string; zp: string | undefined; axis: number; blockSize: number }

export const DEQUANT_MATMUL = definePattern<Bindings>({
  name: "DequantMatMul", root: "MatMul",
  match(root, m) {
    const [x, weight] = root.inputs as [string, string];
    const dq = m.def(weight, "DequantizeLinear");
    if (!dq) return undefined;
    const [w, scale, zp] = dq.inputs as [string, string, string | undefined];
    const consts = [w, scale, ...(zp ? [zp] : [])].every((v) => m.isConstant(v));
    const out = m.type(dq.outputs[0]!)?.dtype;
    if (!consts || m.isConstant(x) || (attrInt(dq.attrs, "output_dtype") ?? 0) !== 0 || m.type(x)?.dtype !== out) return undefined;
    return { x, w, scale, zp: zp || undefined, axis: attrInt(dq.attrs, "axis") ?? 1, blockSize: attrInt(dq.attrs, "block_size") ?? 0 };
  },
  build: ({ x, w, scale, zp, axis, blockSize }, root) => [fusedNode(root, "DequantMatMul", zp ? [x, w, scale, zp] : [x, w, scale], {
    axis: { type: "int", value: axis }, block_size: { type: "int", value: blockSize },
  })],
});
