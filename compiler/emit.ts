// Writing compile outputs. Each file goes to a temporary name in the output
// folder and is renamed into place, so an interrupted compile never leaves a
// half-written plan that looks valid. Nothing is written outside that folder.

import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TierflowError } from "../ir/diagnostics.js";

export function writeAtomically(dir: string, name: string, text: string): string {
  const path = join(dir, name);
  const tmp = join(dir, `.${name}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, path);
  } catch (err) {
    try {
      rmSync(tmp, { force: true });
    } catch {
      // the temporary was never created (its folder is missing or is a file)
    }
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
