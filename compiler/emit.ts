// Writing outputs. Each file goes to a temporary name in its folder and is
// renamed into place, so an interrupted compile never leaves a half-written
// plan that looks valid. The temporary's name is random and it is created
// exclusively (O_EXCL), so a name planted in the folder (a symlink leading
// elsewhere) is never followed: nothing is written outside that folder.
// A folder of outputs (a plan and its IR files) is written as one step
// (writeFolder): every file is rendered into a fresh staging folder first, so
// a failure leaves the folder as it was, and then renamed into place under a
// lock, so two compiles into one folder never mix their files.

import { randomBytes } from "node:crypto";
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
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

/** A file of an output folder: its path inside the folder (posix) and what renders its text, whole or in pieces. */
export type FolderFile = readonly [name: string, render: () => string | Iterable<string>];

const LOCK = ".tierflow-lock";

/** Whether process `pid` is running (a lock whose writer died is stale). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Take `dir`'s lock (a file created exclusively, holding our PID); a stale one is taken over once. */
function lockFolder(dir: string): () => void {
  const path = join(dir, LOCK);
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, "wx", 0o644);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new TierflowError(`cannot lock the output folder: ${err instanceof Error ? err.message : String(err)}`, { file: dir });
      }
      let holder = NaN;
      try { holder = Number(readFileSync(path, "utf8").trim()); } catch { /* removed meanwhile: try again */ }
      if (attempt === 0 && !(Number.isSafeInteger(holder) && holder > 0 && running(holder))) {
        rmSync(path, { force: true });
        continue;
      }
      throw new TierflowError(`another tierflow (process ${holder}) is writing this folder; wait for it, or remove ${LOCK} if none is running`, { file: dir });
    }
  }
}

function writeBytes(fd: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.byteLength;) done += writeSync(fd, bytes, done, bytes.byteLength - done);
}

/** Bytes of pieces gathered before a write. */
const WRITE_BUFFER_BYTES = 1 << 20;

/**
 * Pieces encoded straight into one reused buffer, written when it is full: no
 * joined string to flatten and no new buffer per write.
 */
function writePieces(fd: number, pieces: Iterable<string>): void {
  const buffer = Buffer.allocUnsafe(WRITE_BUFFER_BYTES);
  let used = 0;
  for (const piece of pieces) {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    if (used + piece.length * 3 > buffer.byteLength) {
      writeBytes(fd, buffer.subarray(0, used));
      used = 0;
    }
    if (piece.length * 3 > buffer.byteLength) writeBytes(fd, Buffer.from(piece, "utf8"));
    else used += buffer.write(piece, used, "utf8");
  }
  writeBytes(fd, buffer.subarray(0, used));
}

/**
 * Write `files` into `dir` as one step: all rendered into a staging folder
 * inside `dir` (a render that throws leaves `dir` untouched), then renamed into
 * place in order while `dir` is locked. Returns the paths written.
 */
export function writeFolder(dir: string, files: readonly FolderFile[]): string[] {
  ensureDir(dir);
  const unlock = lockFolder(dir);
  let staging: string | undefined;
  try {
    staging = mkdtempSync(join(dir, ".staging-"));
    for (const [name, render] of files) {
      const path = join(staging, name);
      mkdirSync(dirname(path), { recursive: true });
      const fd = openSync(path, "wx", 0o666);
      try {
        const text = render();
        if (typeof text === "string") writeBytes(fd, Buffer.from(text, "utf8"));
        else writePieces(fd, text);
      } finally {
        closeSync(fd);
      }
    }
    return files.map(([name]) => {
      const to = join(dir, name);
      mkdirSync(dirname(to), { recursive: true });
      renameSync(join(staging!, name), to);
      return to;
    });
  } catch (err) {
    if (err instanceof TierflowError) throw err;
    throw new TierflowError(`cannot write the output folder: ${err instanceof Error ? err.message : String(err)}`, { file: dir });
  } finally {
    if (staging) rmSync(staging, { recursive: true, force: true });
    unlock();
  }
}
