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

export interface LoadOptions extends PipelineOptions {
  /** Pass pipeline, comma-separated; DEFAULT_PIPELINE when absent, "" for none. */
  readonly passes?: string;
}

const LOAD_OPTIONS = {
  passes: { what: "a string", ok: (v: unknown) => typeof v === "string" }, verifyEach: BOOLEAN, recordIR: BOOLEAN, onPass: FUNCTION,
} satisfies Record<keyof LoadOptions, Check>;

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
