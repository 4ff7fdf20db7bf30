// Runs a pipeline of passes, recording each run ({pass, time, before/after IR})
// for --print-ir-after-all, --time-passes and tools, and verifying between
// passes with --verify-each.

import type { Module } from "../../ir/graph/graph.js";
import { TierflowError } from "../../ir/diagnostics.js";
import { verifyModule } from "../../ir/graph/verifier.js";
import { printModule } from "../../ir/graph/printer.js";
import type { Pass } from "./pass.js";
import { parsePipeline } from "./pass.js";
import "./all.js";

/** One pass run of a pipeline: which pass, how long it took and, when asked, the IR after it. */
export interface PassRecord {
  /** The pass's registered name. */
  readonly pass: string;
  /** Wall-clock time of the pass, in milliseconds. */
  readonly ms: number;
  /** IR text after the pass, when recording IR. */
  readonly after?: string;
}

/** How {@link runPipeline} (and {@link loadModel}) runs passes. */
export interface PipelineOptions {
  /** Verify the module after every pass; a failure names the pass. */
  readonly verifyEach?: boolean;
  /** Keep each pass's output as IR text in its record (`after`). */
  readonly recordIR?: boolean;
  /** Called after each pass (progress, printing as it goes). */
  readonly onPass?: (record: PassRecord) => void;
}

/** A pipeline's outcome: the module after the last pass, and one record per pass run. */
export interface PipelineResult {
  readonly module: Module;
  readonly records: readonly PassRecord[];
}

/**
 * Run passes over a module in order: a comma-separated list of registered pass names, or
 * the passes themselves. Returns the final module and a record of each run. An empty or
 * unknown pass name, or with `verifyEach` a pass whose output fails verification, throws a
 * TierflowError.
 *
 * @example
 * ```ts
 * import { importOnnxFile, printModule, runPipeline } from "tierflow";
 *
 * const imported = importOnnxFile("examples/models/llama-tiny.dynamo.onnx");
 * const { module } = runPipeline(imported, "expand-ops,infer-shapes,fold-constants,dce", { verifyEach: true });
 * console.log(printModule(module));
 * ```
 */
export function runPipeline(module: Module, pipeline: string | readonly Pass[], options: PipelineOptions = {}): PipelineResult {
  const passes = typeof pipeline === "string" ? parsePipeline(pipeline) : pipeline;
  const records: PassRecord[] = [];
  let current = module;
  for (const pass of passes) {
    const start = performance.now();
    current = pass.run(current);
    const ms = performance.now() - start;
    if (options.verifyEach) {
      try {
        verifyModule(current);
      } catch (err) {
        if (err instanceof TierflowError) throw new TierflowError(`after pass '${pass.name}': ${err.message}`, err.location);
        throw err;
      }
    }
    const record: PassRecord = options.recordIR ? { pass: pass.name, ms, after: printModule(current) } : { pass: pass.name, ms };
    records.push(record);
    options.onPass?.(record);
  }
  return { module: current, records };
}

/** What `tierflow` runs after import unless told otherwise. */
export const DEFAULT_PIPELINE = "expand-ops,remove-identity,infer-shapes,fold-constants,cse,dce,infer-shapes";

/**
 * A --time-passes table: one line per pass record with its time and share of the total.
 *
 * @example
 * ```ts
 * import { formatTimings, loadModel } from "tierflow";
 *
 * const { records } = await loadModel("examples/models/gpt2-tiny.dynamo.onnx");
 * console.log(formatTimings(records));
 * ```
 */
export function formatTimings(records: readonly PassRecord[]): string {
  const total = records.reduce((s, r) => s + r.ms, 0);
  const width = Math.max(4, ...records.map((r) => r.pass.length));
  const lines = records.map((r) => `  ${r.pass.padEnd(width)}  ${r.ms.toFixed(2).padStart(9)} ms  ${(total ? (100 * r.ms) / total : 0).toFixed(1).padStart(5)}%`);
  return [`pass timings (${total.toFixed(2)} ms total):`, ...lines].join("\n");
}
