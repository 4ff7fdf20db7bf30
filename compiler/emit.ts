// Writing outputs. Each file goes to a temporary name in its folder and is
// renamed into place, so an interrupted compile never leaves a half-written
// plan that looks valid. The temporary's name is random and it is created
// exclusively (O_EXCL), so a name planted in the folder (a symlink leading
// elsewhere) is never followed: nothing is written outside that folder.

import { randomBytes } from "node:crypto";
import { closeSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { TierflowError } from "../ir/diagnostics.js";

/**
 * Replace `path` with `data` atomically: a new temporary beside it, renamed
 * over it. Throws the file system's error; the temporary never outlives a failure.
 */
export function replaceFile(path: string, data: string | Uint8Array): void {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(12).toString("hex")}.tmp`);
  const fd = openSync(tmp, "wx", 0o666);
  let open = true;
  try {
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    for (let done = 0; done < bytes.byteLength;) done += writeSync(fd, bytes, done, bytes.byteLength - done);
    open = false;
    closeSync(fd);
    renameSync(tmp, path);
  } catch (err) {
    if (open) closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
}

export function writeAtomically(dir: string, name: string, text: string): string {
  const path = join(dir, name);
  try {
    replaceFile(path, text);
  } catch (err) {
    throw new TierflowError(`cannot write ${name}: ${err instanceof Error ? err.message : String(err)}`, { file: path });
  }
  return path;
}

export function ensureDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new TierflowError(`cannot create the output folder: ${err instanceof Error ? err.message : String(err)}`, { file: dir });
  }
}
