// tierflow's library API.
export type { Module, Graph, Node, TensorType, Attr, Constant, WeightRef } from "./ir/graph/graph.js";
export type { Dim } from "./ir/symbolic.js";
export type { Tensor } from "./ir/tensor.js";
export { TierflowError } from "./ir/diagnostics.js";
export { printModule } from "./ir/graph/printer.js";
export { verifyModule } from "./ir/graph/verifier.js";
export { allOps, lookupOp, registerOps } from "./ir/graph/ops.js";
export { importOnnxFile } from "./compiler/onnx/import.js";
export { loadModel, readModule } from "./compiler/load.js";
export type { LoadOptions } from "./compiler/load.js";
export { runPipeline, DEFAULT_PIPELINE, formatTimings } from "./compiler/passes/pipeline.js";
export type { PassRecord, PipelineOptions, PipelineResult } from "./compiler/passes/pipeline.js";
export { registerPass, allPasses, lookupPass } from "./compiler/passes/pass.js";
export type { Pass } from "./compiler/passes/pass.js";
export { summarize } from "./compiler/analysis/summary.js";
export type { ModelSummary } from "./compiler/analysis/summary.js";
