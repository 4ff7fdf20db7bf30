// ONNX external data, resolved safely. A location must name a file inside the
// model's folder: absolute paths, "..", drive letters and symlinks that lead
// out are refused (the checks ONNX added after CVE-2022-25882 and CVE-2024-27318).
// A missing file is allowed at import (compile-time work never reads weights);
// a present one must be long enough for every tensor that points into it.

import { statSync } from "node:fs";
import type { WeightRef } from "../../ir/graph/graph.js";
import { checkRelativeLocation, resolveInside } from "../../ir/contained-path.js";
import { fail } from "../../ir/diagnostics.js";
import type { TensorProto } from "./proto.js";
import { toNumber } from "./proto.js";


export function externalDataRef(proto: TensorProto, byteLength: number, what: string, modelDir: string): WeightRef {
  const entries = new Map((proto.externalData ?? []).map((e) => [e.key ?? "", e.value ?? ""]));
  const location = entries.get("location");
  if (location === undefined) fail(`${what}: external data has no location`);
  const file = checkRelativeLocation(location, what);
  const offset = entries.has("offset") ? parseIntField(entries.get("offset")!, "offset", what) : 0;
  const length = entries.has("length") ? parseIntField(entries.get("length")!, "length", what) : byteLength;
  if (length !== byteLength) fail(`${what}: external data length ${length} does not match its ${byteLength} bytes of shape`);
  const real = resolveInside(modelDir, file, what);
  if (real !== undefined) {
    const size = statSync(real).size;
    if (offset + length > size) {
      fail(`${what}: external data '${file}' is ${size} bytes, shorter than declared (needs bytes ${offset}..${offset + length})`);
    }
  }
  return { file, offset, length };
}

function parseIntField(text: string, field: string, what: string): number {
  if (!/^\d+$/.test(text)) fail(`${what}: external data ${field} '${text}' is not a non-negative integer`);
  return toNumber(Number(text), `${what}: external data ${field}`);
}
