// Reading an ONNX file: its bytes through the shared reader of user files
// (a regular file within the model limit, checked on the open descriptor),
// then the import. Apart from import.ts so that the library's types (which
// export importOnnxFile) never name onnx-proto's, whose typings need a
// \`Long\` a user's project does not have.

import { basename, dirname, resolve } from "node:path";
import type { Module } from "../../ir/graph/graph.js";
import { TierflowError } from "../../ir/diagnostics.js";
import { readUserFile } from "../../ir/read-file.js";
import { decodeModel } from "./proto.js";
import { importModelProto } from "./import.js";

/**
 * Read an ONNX file and import it as a graph-level module, types inferred, without
 * verifying or running passes (see {@link loadModel} for that). External data must live in
 * the file's folder. A file that cannot be read, is no ONNX model or uses an op tierflow does
 * not support throws a TierflowError whose location names the file.
 *
 * @example
 * ```ts
 * import { importOnnxFile } from "tierflow";
 *
 * const module = importOnnxFile("examples/models/llama-tiny.dynamo.onnx");
 * console.log(module.graphs[0]!.nodes.length, module.opsets);
 * ```
 */
export function importOnnxFile(path: string): Module {
  const full = resolve(path);
  const bytes = new Uint8Array(readUserFile(full, "ONNX model", path));
  const model = decodeModel(bytes, path);
  try {
    return importModelProto(model, bytes, { modelDir: dirname(full), modelFile: basename(full) });
  } catch (err) {
    if (err instanceof TierflowError) throw new TierflowError(err.message, { ...err.location, file: path });
    throw err;
  }
}
