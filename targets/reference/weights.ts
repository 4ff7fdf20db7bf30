// Weights for the reference backend, read only when a node needs them and only
// the bytes of that one tensor. The reference's location was checked at import,
// but a module may come from IR text or a pass, so it is checked again here:
// nothing outside the model's folder is ever read.

import { closeSync, readSync } from "node:fs";
import type { Constant } from "../../ir/graph/graph.js";
import { fail } from "../../ir/diagnostics.js";
import { openRegularFile } from "../../ir/read-file.js";
import { byteSize } from "../../ir/dtype.js";
import type { Tensor } from "../../ir/tensor.js";
import { elementCount } from "../../ir/tensor.js";
import { checkRelativeLocation, resolveInside } from "../../ir/contained-path.js";
import { decodeBytes } from "../../ir/tensor-bytes.js";

export type WeightConstant = Extract<Constant, { kind: "weight" }>;

/** Read one weight's bytes from its file under `modelDir` and decode them (f16/bf16 widen to f32 values). */
export function loadWeight(c: WeightConstant, modelDir: string): Tensor {
  return decodeBytes(c.dtype, c.dims, readWeightBytes(c, modelDir));
}

/**
 * Decoded weights kept from run to run, as a server running one model repeatedly
 * would keep them: pass one as `RunOptions.weights`. Entries are keyed by the
 * module's constant and remember the folder they were read from; a weight asked
 * for from another folder is read again. Holding it keeps every weight the runs
 * touched in memory, so a single run (the CLI) goes without.
 *
 * @example
 * ```ts
 * import { WeightCache, loadModel, run } from "tierflow";
 *
 * const { module } = await loadModel("examples/models/gpt2-tiny.torchscript.onnx");
 * const weights = new WeightCache();
 * for (const n of [1, 2, 3]) {
 *   const ids = { dtype: "i64", dims: [1, n], data: new BigInt64Array(n) } as const;
 *   run(module, { input_ids: ids }, { modelDir: "examples/models", weights }); // weights decoded once
 * }
 * ```
 */
export class WeightCache {
  private readonly entries = new WeakMap<WeightConstant, { readonly modelDir: string; readonly tensor: Tensor }>();

  /**
   * The weight decoded, from the cache when it was read from `modelDir` before. A weights
   * file that is missing, outside `modelDir` or too short throws a TierflowError.
   */
  load(c: WeightConstant, modelDir: string): Tensor {
    const hit = this.entries.get(c);
    if (hit && hit.modelDir === modelDir) return hit.tensor;
    const tensor = loadWeight(c, modelDir);
    this.entries.set(c, { modelDir, tensor });
    return tensor;
  }
}

/**
 * Read one weight's raw little-endian bytes, as stored in its file, into `into`
 * (or a new array): the runtime streams them straight into a memory arena.
 */
export function readWeightBytes(c: WeightConstant, modelDir: string, into?: Uint8Array): Uint8Array {
  const { file, offset, length } = c.ref;
  const what = `weights file '${file}'`;
  const location = checkRelativeLocation(file, what);
  const path = resolveInside(modelDir, location, what);
  if (path === undefined) fail(`${what} is missing (looked in ${modelDir})`);
  const needed = byteSize(c.dtype, elementCount(c.dims));
  if (length !== needed) fail(`${what}: weight of ${c.dtype}[${c.dims.join(", ")}] needs ${needed} bytes, the reference has ${length}`);
  if (into && into.byteLength !== length) fail(`${what}: weight of ${length} bytes does not fill a destination of ${into.byteLength}`);
  const bytes = into ?? new Uint8Array(length);
  const { fd, size } = openRegularFile(path, what);
  try {
    if (offset + length > size) fail(`${what} is ${size} bytes, too short for bytes ${offset}..${offset + length}`);
    let done = 0;
    while (done < length) {
      const n = readSync(fd, bytes, done, length - done, offset + done);
      if (n === 0) fail(`${what} ended early at byte ${offset + done}`);
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  return bytes;
}
