// Compile stages: the passes after the graph level, registered by name like
// the graph passes (pass.ts) so that `tierflow passes` lists the whole
// pipeline and --time-passes and --print-ir-after-all see every step. A stage
// runs over a state that the stages fill in level by level — the graph, its
// dataflow module, the sections, their units, the placement, the costs — and
// says which IR level it reads and which it leaves, so a record of its run can
// print the IR it produced.

import { fail } from "../../ir/diagnostics.js";
import type { PassRecord } from "./pipeline.js";

/** The three IR levels: graph (.tfg), dataflow (.tfd), placement (.tfp). */
export type IrLevel = "graph" | "dataflow" | "placement";

/** A compile stage over a state of type S. */
export interface Stage<S> {
  /** The kebab-case name ("lower-to-dataflow"). */
  readonly name: string;
  /** One line, as `tierflow passes` lists it. */
  readonly summary: string;
  /** What it does and its weakness, with a sample of the IR it produces. */
  readonly description: string;
  /** The IR level it reads, and the one it leaves. */
  readonly from: IrLevel;
  readonly to: IrLevel;
  run(state: S): S;
}

const STAGES = new Map<string, Stage<unknown>>();

/** Add a stage to the registry; a name that is not kebab-case or is taken throws an Error. */
export function registerStage<S>(stage: Stage<S>): Stage<S> {
  if (!/^[a-z][a-z0-9-]*$/.test(stage.name)) throw new Error(`stage name '${stage.name}' is not kebab-case`);
  if (STAGES.has(stage.name)) throw new Error(`stage '${stage.name}' registered twice`);
  STAGES.set(stage.name, stage as Stage<unknown>);
  return stage;
}

/** Every registered stage, in registration order (the order compile runs them). */
export function allStages(): Stage<unknown>[] {
  return [...STAGES.values()];
}

/** The registered stage of that name, or undefined. */
export function findStage(name: string): Stage<unknown> | undefined {
  return STAGES.get(name);
}

/** How stages run: IR after each (printed by `print`, when recording), and a callback per record. */
export interface StageRunOptions<S> {
  readonly recordIR?: boolean;
  readonly print?: (state: S, level: IrLevel) => string | undefined;
  readonly onPass?: (record: PassRecord) => void;
}

/** Run stages in order over `state`, one record each ({pass, ms, after?}), as runPipeline does for graph passes. */
export function runStages<S>(state: S, stages: readonly Stage<S>[], options: StageRunOptions<S> = {}): { state: S; records: PassRecord[] } {
  const records: PassRecord[] = [];
  let current = state;
  for (const stage of stages) {
    if (!STAGES.has(stage.name)) fail(`stage '${stage.name}' is not registered`);
    const start = performance.now();
    current = stage.run(current);
    const ms = performance.now() - start;
    const after = options.recordIR ? options.print?.(current, stage.to) : undefined;
    const record: PassRecord = after !== undefined ? { pass: stage.name, ms, after } : { pass: stage.name, ms };
    records.push(record);
    options.onPass?.(record);
  }
  return { state: current, records };
}
