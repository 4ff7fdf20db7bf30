// ONNX external data, resolved safely. A location must name a file inside the
// model's folder: absolute paths, "..", drive letters and symlinks that lead
// out are refused (the checks ONNX added after CVE-2022-25882 and CVE-2024-27318).
// A missing file is allowed at import (compile-time work never reads weights);
// a present one must be long enough for every tensor that points into it.

import { existsSync, lstatSync, realpathSync, statSync } from "node:fs";
import { join, posix, sep } from "node:path";
import type { WeightRef } from "../../ir/graph/graph.js";
import { fail } from "../../ir/diagnostics.js";
import type { TensorProto } from "./proto.js";
import { toNumber } from "./proto.js";

/** Check a relative location lexically and return it in normalised posix form. */
export function checkRelativeLocation(location: string, what: string): string {
  if (location === "") fail(`${what}: external data location is empty`);
  if (location.includes("\0")) fail(`${what}: external data location contains a NUL byte`);
  if (/^[A-Za-z]:/.test(location) || location.startsWith("\\\\")) {
    fail(`${what}: external data location '${location}' is a drive path; it must be relative to the model's folder`);
  }
  if (location.startsWith("/") || location.startsWith("\\")) {
    fail(`${what}: external data location '${location}' is absolute; it must be relative to the model's folder`);
  }
  const parts = location.split(/[\\/]+/);
  if (parts.includes("..")) fail(`${what}: external data location '${location}' escapes the model's folder ('..')`);
  return posix.normalize(parts.join("/"));
}

/**
 * Resolve a checked location under `baseDir`, refusing symlinks that lead out.
 * Returns the absolute path, or undefined when the file does not exist.
 */
export function resolveInside(baseDir: string, location: string, what: string): string | undefined {
  const path = join(baseDir, location);
  if (!existsSync(path)) {
    if (lstatSafe(path)?.isSymbolicLink()) fail(`${what}: external data '${location}' is a dangling symlink`);
    return undefined;
  }
  const realBase = realpathSync(baseDir);
  const real = realpathSync(path);
  if (real !== realBase && !real.startsWith(realBase + sep)) {
    fail(`${what}: external data '${location}' is a symlink that leads out of the model's folder`);
  }
  if (!statSync(real).isFile()) fail(`${what}: external data '${location}' is not a regular file`);
  return real;
}

function lstatSafe(path: string) {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

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
