// The plan runtime: executes plan.json on the CPU reference backend as the
// plan lays it out (tiers, addresses, transfers, sections, tiles) and checks it.
export { executePlan } from "./execute.js";
export type { ExecuteOptions, ExecuteResult, SectionTiming } from "./execute.js";
export { TraceRecorder } from "./trace.js";
export type { ChromeTrace, TraceEvent } from "./trace.js";
export { ResidencyError } from "./arena.js";
