// Files that are not regular files, handed to every reader of a file a user
// names: a FIFO (which would block a read forever), a folder, a symlink to
// /dev/zero (which would fill memory), links to these, a dangling link, a
// missing file and sparse files one byte over the limit of their kind. Each
// must be refused with a TierflowError saying so, at once.
//
// A FIFO read would hang the process, which no in-process timer can stop: while
// a case may touch a FIFO, a child process holds its write end open for a few
// seconds (holdFifo), so a read that should never happen ends at end of file
// after that time and shows as a case over its time limit.

import { spawn, spawnSync } from "node:child_process";
import { closeSync, constants, mkdirSync, mkdtempSync, openSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TierflowError } from "../../ir/diagnostics.js";
import { FILE_LIMITS } from "../../ir/read-file.js";
import type { FileKind } from "../../ir/read-file.js";
import { readPlan } from "../../compiler/plan-json.js";
import { loadModel } from "../../compiler/load.js";
import { readManifest } from "../../compiler/coe/manifest.js";
import { readTrace } from "../../compiler/coe/trace.js";
import { decodeModel, encodeModel } from "../../compiler/onnx/proto.js";
import { importOnnxFile } from "../../compiler/onnx/import-file.js";
import { loadTarget } from "../../targets/target.js";
import { readTensorFile } from "../../compiler/tensor-files.js";
import { openPlan } from "../../compiler/open-plan.js";
import type { Corpus } from "./kinds.js";
import type { FuzzOptions } from "./harness.js";

/** Make a FIFO; false where mkfifo is unavailable. */
export function makeFifo(path: string): boolean {
  return spawnSync("mkfifo", [path]).status === 0;
}

/**
 * Hold a FIFO's write end open in a child process for `seconds`: a reader that
 * blocks on it gets end of file then instead of never. Returns the release.
 */
export function holdFifo(path: string, seconds = 6): () => void {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
  } catch {
    return () => {};
  }
  try {
    const child = spawn("sleep", [String(seconds)], { stdio: ["ignore", fd, "ignore"] });
    child.unref();
    return () => { child.kill(); };
  } finally {
    closeSync(fd); // the child has its own copy
  }
}

/** The kinds of path that are not a readable regular file. */
const SHAPES = ["fifo", "folder", "zero-link", "null-link", "fifo-link", "folder-link", "dangling-link", "missing", "over-limit"] as const;
type Shape = (typeof SHAPES)[number];

interface Reader {
  readonly name: string;
  readonly ext: string;
  readonly limit: FileKind;
  readonly read: (path: string) => unknown;
}

/** What a refusal may say for each shape; anything else means the reader looked inside. */
const REFUSAL: Record<Shape, RegExp> = {
  "fifo": /not a regular file \(a FIFO\)|not a regular file|is not a file/,
  "folder": /not a regular file \(a folder\)|not a regular file|is not a file/,
  "zero-link": /not a regular file \(a character device\)|not a regular file|is not a file|leads out of/,
  "null-link": /not a regular file \(a character device\)|not a regular file|is not a file|leads out of/,
  "fifo-link": /not a regular file|is not a file/,
  "folder-link": /not a regular file|is not a file/,
  "dangling-link": /does not exist|not readable|dangling|is not a file/,
  "missing": /does not exist|not readable|is not a file/,
  "over-limit": /over the limit of/,
};

export interface FileCase {
  readonly reader: string;
  readonly shape: Shape;
}

/** Every reader of a named file, each given every shape. */
export function nonRegularFilesKind(c: Corpus): Pick<FuzzOptions<FileCase>, "kind" | "generate" | "check"> {
  const dir = mkdtempSync(join(c.dir, "files-"));
  const hasFifo = makeFifo(join(dir, "probe.fifo"));
  const planFile = join(dir, "valid-plan.json");
  writeFileSync(planFile, JSON.stringify(c.planJson));
  const onnxWithExternal = (location: string): string => { // the first model, its first initializer in an external file
    const m = decodeModel(c.models[0]!.bytes, "m.onnx");
    const t = m.graph!.initializer![0]!;
    t.rawData = new Uint8Array(0);
    t.dataLocation = 1;
    t.externalData = [{ key: "location", value: location }];
    const path = join(dir, `external-${location}.onnx`);
    writeFileSync(path, encodeModel(m));
    return path;
  };
  const readers: Reader[] = [
    { name: "plan", ext: "json", limit: "plan", read: (p) => readPlan(p) },
    { name: "target", ext: "json", limit: "target file", read: (p) => loadTarget(p) },
    { name: "manifest", ext: "json", limit: "CoE manifest", read: (p) => readManifest(p) },
    { name: "trace", ext: "jsonl", limit: "trace", read: (p) => readTrace(p) },
    { name: "graph-text", ext: "tfg", limit: "graph IR text", read: (p) => loadModel(p) },
    { name: "onnx", ext: "onnx", limit: "ONNX model", read: (p) => importOnnxFile(p) },
    { name: "npy", ext: "npy", limit: "tensor file", read: (p) => readTensorFile(p) },
    { name: "pb", ext: "pb", limit: "tensor file", read: (p) => readTensorFile(p) },
    { name: "json-tensor", ext: "json", limit: "JSON tensor", read: (p) => readTensorFile(p) },
    { name: "plan-model", ext: "onnx", limit: "ONNX model", read: (p) => openPlan(planFile, { model: p }) },
    { name: "external-data", ext: "bin", limit: "ONNX model", read: (p) => importOnnxFile(onnxWithExternal(p.slice(dir.length + 1))) },
  ];
  const pathOf = (r: Reader, shape: Shape): string => join(dir, `${r.name}-${shape}.${r.ext}`);
  for (const r of readers) {
    const path = (shape: Shape) => pathOf(r, shape);
    if (hasFifo) makeFifo(path("fifo"));
    mkdirSync(path("folder"));
    symlinkSync("/dev/zero", path("zero-link"));
    symlinkSync("/dev/null", path("null-link"));
    symlinkSync(hasFifo ? path("fifo") : "/dev/zero", path("fifo-link"));
    symlinkSync(path("folder"), path("folder-link"));
    symlinkSync(join(dir, "nowhere"), path("dangling-link"));
    writeFileSync(path("over-limit"), "");
    truncateSync(path("over-limit"), FILE_LIMITS[r.limit] + 1); // sparse: nothing is written
  }
  // Not asked of every reader: external data is read by offset and has no size limit of its own, and a missing
  // file is reported when weights are read (a CoE graph's is bound later); a model given to run is hashed, in
  // chunks, before it is read, so a file over the model limit is refused for its sha256.
  const skip = new Set(["external-data over-limit", "external-data missing", "plan-model over-limit"]);
  const shapes = SHAPES.filter((s) => hasFifo || !s.startsWith("fifo"));
  const cases = readers.flatMap((r) => shapes.filter((s) => !skip.has(`${r.name} ${s}`)).map((shape) => ({ reader: r.name, shape })));
  return {
    kind: "non-regular-files",
    generate: (rng) => rng.pick(cases),
    check: async ({ reader, shape }) => {
      const r = readers.find((x) => x.name === reader)!;
      const path = pathOf(r, shape);
      const release = shape === "fifo" || shape === "fifo-link" ? holdFifo(path) : () => {};
      try {
        await r.read(path);
      } catch (err) {
        if (!(err instanceof TierflowError)) throw err;
        if (!REFUSAL[shape].test(err.message)) throw new Error(`${reader} given a ${shape}: refused for another reason, so it looked inside: ${err.message.slice(0, 160)}`);
        if (err.message.includes("\0")) throw new Error(`${reader} given a ${shape} echoed its bytes`);
        throw err; // the refusal it should be

      } finally {
        release();
      }
      throw new Error(`${reader} read a ${shape} as if it were a regular file`);
    },
  };
}
