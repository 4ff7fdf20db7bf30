// Paths a file names (an ONNX model's external data, a CoE manifest's models
// and weights): relative, inside the folder they are resolved against, and not
// led out of it by a symlink.

import { existsSync, lstatSync, realpathSync, statSync } from "node:fs";
import { join, posix, sep } from "node:path";
import { fail } from "./diagnostics.js";

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
