// The reference backend: a graph-level module run on concrete tensors.
export { run, checkInputs, lastUses } from "./interpreter.js";
export type { RunOptions, RunResult, NodeTiming } from "./interpreter.js";
export { loadWeight, WeightCache } from "./weights.js";
