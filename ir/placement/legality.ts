// The plan's legality (legality/check.ts): everything the runtime would refuse
// about a plan, refused first, in the runtime's own words (legality/words.ts).

export { checkPlanLegality } from "./legality/check.js";
export { PlanRefusal, kernelLabel, message, sectionLabel, tensorSizeProblem } from "./legality/words.js";
export { attentionInputsProblem, attentionStage, attentionStageInputs, decodesOwnCache, isAttentionNode } from "./legality/attention.js";
export { RESIDENT_ROLES, SHAPE_ONLY_OPS, align, memoryIndex } from "./legality/memory.js";
export type { MemoryIndex } from "./legality/memory.js";
export { kernelNode } from "./legality/kernels.js";
export { cacheAppendProblem, decodeRefusal, isCacheAppendNode, runsPlan } from "./legality/cache.js";
