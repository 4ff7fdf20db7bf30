// The plan runtime: executes plan.json on the CPU reference backend as the
// plan lays it out (tiers, addresses, transfers, sections, tiles) and checks it.
export { executePlan } from "./execute.js";
export type { ExecuteOptions, ExecuteResult, SectionTiming } from "./execute.js";
export { openPlan, checkModelIdentity, graphOfPlan, fileSha256 } from "./open.js";
export type { OpenedPlan, OpenOptions } from "./open.js";
export { TraceRecorder } from "./trace.js";
export type { ChromeTrace, TraceEvent } from "./trace.js";
export { ResidencyError } from "./arena.js";
