// Reading a file a user named: a plan, IR text, a target, a CoE manifest, a
// trace, a tensor. Only a regular file is read, and at most the limit for its
// kind (docs/HARDENING.md, "Limits"): a FIFO would block forever and /dev/zero
// would fill memory. The path is stat'ed first, so no device is ever opened,
// then opened without blocking and checked again on the descriptor, so a file
// swapped in between (or a symlink retargeted) is caught too.

import type { Stats } from "node:fs";
import { closeSync, constants, fstatSync, openSync, readSync, statSync } from "node:fs";
import type { Location } from "./diagnostics.js";
import { fail } from "./diagnostics.js";

const MiB = 1024 * 1024;

/** The largest file of each kind that tierflow reads whole, in bytes. */
export const FILE_LIMITS = {
  "plan": 256 * MiB,
  "CoE plan": 256 * MiB,
  "graph IR text": 256 * MiB,
  "target file": 1 * MiB,
  "CoE manifest": 1 * MiB,
  "trace": 256 * MiB,
  "tensor file": 2048 * MiB,
  "JSON tensor": 256 * MiB,
  // Weights beyond this belong in external data (protobuf's own limit is 2 GiB).
  "ONNX model": 2048 * MiB,
} as const satisfies Record<string, number>;

export type FileKind = keyof typeof FILE_LIMITS;

/** "256 MiB", "2 GiB": a limit as the docs give it. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * MiB && bytes % (1024 * MiB) === 0) return `${bytes / (1024 * MiB)} GiB`;
  if (bytes >= MiB && bytes % MiB === 0) return `${bytes / MiB} MiB`;
  return `${bytes} bytes`;
}

function fileType(st: Stats): string {
  if (st.isDirectory()) return "a folder";
  if (st.isFIFO()) return "a FIFO";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isSocket()) return "a socket";
  return "not a plain file";
}

function checkRegular(st: Stats, what: string, where: Location): void {
  if (!st.isFile()) fail(`${what} is not a regular file (${fileType(st)})`, where);
}

/**
 * Open a regular file for reading without ever blocking on it; returns the
 * descriptor (the caller closes it) and the size it has now.
 */
export function openRegularFile(path: string, what: string, where: Location = {}): { readonly fd: number; readonly size: number } {
  const unreadable = `cannot read ${what}: it does not exist or is not readable`;
  let named: Stats;
  try {
    named = statSync(path);
  } catch {
    fail(unreadable, where);
  }
  checkRegular(named, what, where);
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch {
    fail(unreadable, where);
  }
  try {
    const opened = fstatSync(fd);
    checkRegular(opened, what, where);
    return { fd, size: opened.size };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** The bytes of a regular file of at most FILE_LIMITS[kind] bytes; anything else is refused in one line. */
export function readUserFile(path: string, kind: FileKind, shownAs: string = path): Buffer {
  const where = { file: shownAs };
  const limit = FILE_LIMITS[kind];
  const tooLarge = (size: string): never => fail(`${kind} is ${size} bytes, over the limit of ${formatBytes(limit)}`, where);
  const { fd, size } = openRegularFile(path, kind, where);
  try {
    if (size > limit) tooLarge(String(size));
    // One byte more than the size, to see the end of a file that grew since fstat.
    let buffer = Buffer.allocUnsafe(size + 1);
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        if (length > limit) tooLarge(`over ${length}`);
        const bigger = Buffer.allocUnsafe(Math.min(2 * length, limit + 1));
        buffer.copy(bigger, 0, 0, length);
        buffer = bigger;
      }
      let n: number;
      try {
        n = readSync(fd, buffer, length, buffer.length - length, null);
      } catch (err) {
        fail(`cannot read ${kind} (${err instanceof Error ? err.message : String(err)})`, where);
      }
      if (n === 0) break;
      length += n;
    }
    if (length > limit) tooLarge(`over ${length}`);
    return buffer.subarray(0, length);
  } finally {
    closeSync(fd);
  }
}

/** A user's text file (UTF-8), with readUserFile's checks. */
export function readUserText(path: string, kind: FileKind, shownAs: string = path): string {
  return readUserFile(path, kind, shownAs).toString("utf8");
}
