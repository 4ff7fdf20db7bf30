// Reference kernels of the quantization ops (ir/graph/ops/quant.ts): ONNX's
// QuantizeLinear and DequantizeLinear, onnxruntime's MatMulNBits. They check
// what the ops' type checks check, on the tensors' own dtypes and shapes.

import type { Tensor } from "../../../ir/tensor.js";
import type { TensorType } from "../../../ir/graph/graph.js";
import { CONTRIB_DOMAIN } from "../../../ir/graph/ops/util.js";
import {
  checkInt32ZeroPoint, checkNBits, checkPrecision, dequantizedType, granularityOfTensors, nbitsLayout, quantizedType,
} from "../../../ir/graph/ops/quant.js";
import { dequantizeLinear, matmulNBits, quantizeLinear } from "../kernels/quant.js";
import type { KernelEntry } from "./op-kernel.js";
import { kernelsOf } from "./op-kernel.js";

const typeOf = (t: Tensor | undefined): TensorType | undefined => (t ? { dtype: t.dtype, shape: t.dims } : undefined);

export const QUANT_KERNELS: readonly KernelEntry[] = [
  ...kernelsOf("", {
    QuantizeLinear: ([x, scale, zp], { attrs, opset }) => {
      checkPrecision(attrs);
      const to = quantizedType({ attrs }, zp?.dtype);
      return [quantizeLinear(x!, scale!, zp, granularityOfTensors("QuantizeLinear", x!, scale!, attrs, opset), to)];
    },
    DequantizeLinear: ([x, scale, zp], { attrs, opset }) => {
      checkInt32ZeroPoint(x!.dtype, zp);
      return [dequantizeLinear(x!, scale!, zp, granularityOfTensors("DequantizeLinear", x!, scale!, attrs, opset), dequantizedType(attrs, scale!.dtype))];
    },
  }),
  ...kernelsOf(CONTRIB_DOMAIN, {
    MatMulNBits: ([a, b, scales, zeroPoints, gIdx, bias], { attrs }) => {
      const l = nbitsLayout(attrs);
      checkNBits(l, { a: typeOf(a)!, b: typeOf(b)!, scales: typeOf(scales)!, zeroPoints: typeOf(zeroPoints), gIdx: gIdx !== undefined, bias: typeOf(bias) });
      return [matmulNBits(a!, b!, scales!, zeroPoints, bias, l)];
    },
  }),
];
