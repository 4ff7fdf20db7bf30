// Load a model for compilation: an ONNX file or graph-level IR text (.tfg),
// verified, then run through a pass pipeline (the default one unless given).
// Asynchronous because the text parser is loaded only when a .tfg file is read.

import type { Module } from "../ir/graph/graph.js";
import { TierflowError } from "../ir/diagnostics.js";
import { verifyModule } from "../ir/graph/verifier.js";
import { readUserText } from "../ir/read-file.js";
import { kindOfFile, refuseOtherKind } from "./file-kind.js";
import { importOnnxFile } from "./onnx/import-file.js";
import type { PipelineOptions, PipelineResult } from "./passes/pipeline.js";
import { DEFAULT_PIPELINE, runPipeline } from "./passes/pipeline.js";
import type { Check } from "../ir/arguments.js";
import { BOOLEAN, FUNCTION, STRING, checkArg, checkOptions } from "../ir/arguments.js";

/** Options of {@link loadModel}: the pass pipeline to run and how to run it. */
export interface LoadOptions extends PipelineOptions {
  /** Pass pipeline, comma-separated; DEFAULT_PIPELINE when absent, "" for none. */
  readonly passes?: string;
}

const LOAD_OPTIONS = {
  passes: { what: "a string", ok: (v: unknown) => typeof v === "string" }, verifyEach: BOOLEAN, recordIR: BOOLEAN, onPass: FUNCTION,
} satisfies Record<keyof LoadOptions, Check>;

/**
 * Read a model as a graph-level module, without verifying it or running passes: an ONNX
 * file, or graph-level IR text when the name ends in `.tfg`. A file that cannot be read or
 * parsed, or is another kind of tierflow file (a plan, a manifest), throws a TierflowError.
 *
 * @example
 * ```ts
 * import { readModule } from "tierflow";
 *
 * const module = await readModule("examples/models/gpt2-tiny.dynamo.onnx");
 * console.log(module.name, module.graphs[0]!.inputs);
 * ```
 */
export async function readModule(path: string): Promise<Module> {
  checkArg("readModule", "path", path, STRING);
  if (path.endsWith(".tfg")) {
    const text = readUserText(path, "graph IR text");
    const { parseGraphText } = await import("./parse-text.js");
    return parseGraphText(text, path);
  }
  try {
    return await importOnnxFile(path);
  } catch (err) {
    // A plan, manifest or target given as a model: say what it is, not that its bytes are no protobuf.
    if (err instanceof TierflowError && /not an ONNX model|truncated protobuf/.test(err.message)) refuseOtherKind(path, kindOfFile(path), "onnx");
    throw err;
  }
}

/**
 * Load a model for compilation: read it as {@link readModule} does, verify it, then run the
 * pass pipeline (`options.passes`, {@link DEFAULT_PIPELINE} by default, "" for none). Returns
 * the module and a record of each pass run. An unreadable or invalid model, an unknown pass
 * or a pass that breaks the module (with `verifyEach`) throws a TierflowError naming the file.
 *
 * @example
 * ```ts
 * import { formatTimings, loadModel } from "tierflow";
 *
 * const { module, records } = await loadModel("examples/models/bert-tiny.torchscript.onnx", { verifyEach: true });
 * console.log(module.graphs[0]!.nodes.length);
 * console.log(formatTimings(records));
 * ```
 */
export async function loadModel(path: string, options: LoadOptions = {}): Promise<PipelineResult> {
  checkArg("loadModel", "path", path, STRING);
  checkOptions("loadModel", "options", options, LOAD_OPTIONS);
  const module = await readModule(path);
  try {
    verifyModule(module);
    const passes = options.passes ?? DEFAULT_PIPELINE;
    if (passes.trim() === "") return { module, records: [] };
    return runPipeline(module, passes, options);
  } catch (err) {
    if (err instanceof TierflowError) throw new TierflowError(err.message, { ...err.location, file: path });
    throw err;
  }
}
