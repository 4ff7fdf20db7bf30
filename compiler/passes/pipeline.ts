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

export interface PassRecord {
  readonly pass: string;
  readonly ms: number;
  /** IR text after the pass, when recording IR. */
  readonly after?: string;
}

export interface PipelineOptions {
  readonly verifyEach?: boolean;
  readonly recordIR?: boolean;
  /** Called after each pass (progress, printing as it goes). */
  readonly onPass?: (record: PassRecord) => void;
}

export interface PipelineResult {
  readonly module: Module;
  readonly records: readonly PassRecord[];
}

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

/** A --time-passes table. */
export function formatTimings(records: readonly PassRecord[]): string {
  const total = records.reduce((s, r) => s + r.ms, 0);
  const width = Math.max(4, ...records.map((r) => r.pass.length));
  const lines = records.map((r) => `  ${r.pass.padEnd(width)}  ${r.ms.toFixed(2).padStart(9)} ms  ${(total ? (100 * r.ms) / total : 0).toFixed(1).padStart(5)}%`);
  return [`pass timings (${total.toFixed(2)} ms total):`, ...lines].join("\n");
}
