// Reference kernels of the neural network ops (ir/graph/ops/nn.ts): MatMul, Gemm,
// Conv, the pools, the normalisations and the softmaxes.

import { floatAttr, intAttr } from "../../../ir/graph/ops/util.js";
import { gemmKernel, matmulKernel } from "../kernels/matmul.js";
import { convKernel } from "../kernels/conv.js";
import { globalAveragePoolKernel, poolKernel } from "../kernels/pool.js";
import { batchNormKernel, layerNormKernel } from "../kernels/normalize.js";
import { softmaxKernel } from "../kernels/softmax.js";
import type { OpKernel } from "./op-kernel.js";

const pool = (op: "MaxPool" | "AveragePool"): OpKernel => ([x], { attrs, outputCount }) => poolKernel(op, x!, attrs, outputCount);
const softmax = (op: "Softmax" | "LogSoftmax"): OpKernel => ([x], { attrs, opset }) => [softmaxKernel(x!, attrs, opset, op === "LogSoftmax")];

export const NN_KERNELS: Readonly<Record<string, OpKernel>> = {
  MatMul: ([a, b]) => [matmulKernel(a!, b!)],
  Gemm: ([a, b, c], { attrs }) => [gemmKernel(a!, b!, c, floatAttr(attrs, "alpha", 1), floatAttr(attrs, "beta", 1),
    intAttr(attrs, "transA", 0) !== 0, intAttr(attrs, "transB", 0) !== 0)],
  Conv: ([x, w, b], { attrs }) => [convKernel(x!, w!, b, attrs)],
  MaxPool: pool("MaxPool"),
  AveragePool: pool("AveragePool"),
  GlobalAveragePool: ([x]) => [globalAveragePoolKernel(x!)],
  BatchNormalization: ([x, scale, b, mean, variance], { attrs, outputCount }) => [batchNormKernel(x!, scale!, b!, mean!, variance!,
    floatAttr(attrs, "epsilon", 1e-5), intAttr(attrs, "training_mode", 0), outputCount)],
  LayerNormalization: ([x, scale, b], { attrs, outputCount }) =>
    layerNormKernel(x!, scale!, b, intAttr(attrs, "axis", -1), floatAttr(attrs, "epsilon", 1e-5), outputCount),
  Softmax: softmax("Softmax"),
  LogSoftmax: softmax("LogSoftmax"),
};
