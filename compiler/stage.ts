// The progress callback of long library calls (compile, compileCoe, simulate): a
// stage name as each starts and, for countable work (layouts tried, expert graphs
// compiled, policies simulated), how far it has got. The library prints nothing;
// the command draws these on a terminal (compiler/cli/progress.ts).

/** Where a stage stands in a counted series: `done` of `total` units finished (the stage is the next one). */
export interface StageStep {
  readonly done: number;
  readonly total: number;
  /** What is counted, plural: "layouts", "graphs", "policies". */
  readonly unit: string;
}

/** Called as each stage starts, with `step` when the stage is one of a counted series. */
export type OnStage = (stage: string, step?: StageStep) => void;
