// The reference backend: a graph-level module run on concrete tensors.
export { run, checkInputs, lastUses } from "./interpreter.js";
export type { RunOptions, RunResult, NodeTiming } from "./interpreter.js";
export { loadWeight, WeightCache } from "./weights.js";
export { readTensorFile, writeTensorFile, encodeTensor, decodeTensor, TENSOR_FORMATS } from "./tensor-files.js";
export type { TensorFormat } from "./tensor-files.js";
