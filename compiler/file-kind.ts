// What a file a user gave is, when it is not what the command takes: a plan
// given to compile, a CoE plan to verify, an ONNX model to run PLAN. Each
// reader asks only once it has failed to read the file as its own kind, and
// says what the file is and which command takes it, instead of that reader's
// own complaint (a missing field, bytes that are not JSON).

import { closeSync, readSync } from "node:fs";
import { dirname } from "node:path";
import { fail } from "../ir/diagnostics.js";
import { openRegularFile } from "../ir/read-file.js";
import { readJsonFile } from "../ir/json-file.js";

export type KnownKind = "plan" | "coe-plan" | "coe-manifest" | "target" | "onnx" | "graph-ir";

/** The kind of a parsed JSON document tierflow reads or writes, if it is one. */
export function kindOfJson(value: unknown): KnownKind | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const has = (key: string) => Object.hasOwn(value, key);
  const format = has("format") ? (value as { format: unknown }).format : undefined;
  if (format === "tierflow-coe") return "coe-manifest";
  if (format === "tierflow-coe-plan") return "coe-plan";
  if (has("dataflow") && has("sections")) return "plan";
  if (has("compute") && has("sram") && has("hbm")) return "target";
  return undefined;
}

/** The kind of a file that is not JSON, from its name and first bytes: an ONNX model or graph IR text. */
export function kindOfBinary(path: string): KnownKind | undefined {
  let head: Buffer;
  try {
    const { fd } = openRegularFile(path, "file");
    try {
      head = Buffer.alloc(64);
      head = head.subarray(0, readSync(fd, head, 0, head.length, 0));
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
  if (/\.onnx$/i.test(path)) return "onnx";
  if (/\.tfg$/i.test(path)) return "graph-ir";
  const text = head.toString("latin1");
  if (/^\s*(\/\/[^\n]*\n\s*)*module\s+@/.test(text)) return "graph-ir";
  // An ONNX ModelProto starts with ir_version (field 1, varint): byte 0x08.
  return head[0] === 0x08 ? "onnx" : undefined;
}

/** The kind of any file: a JSON document tierflow knows, else an ONNX model or graph IR text. */
export function kindOfFile(path: string): KnownKind | undefined {
  try {
    return kindOfJson(readJsonFile(path, "plan"));
  } catch {
    return kindOfBinary(path);
  }
}

/** What to do with a file of `kind` instead. */
function takenBy(kind: KnownKind, path: string): string {
  switch (kind) {
    case "plan": return "this is a plan `tierflow compile` wrote: check it with `tierflow verify`, run it with `tierflow run` or `tierflow generate`";
    case "coe-plan": return `this is a CoE plan: give its folder to \`tierflow simulate ${dirname(path)}\` or \`tierflow run ${dirname(path)} --request ...\``;
    case "coe-manifest": return `this is a CoE manifest: compile it with \`tierflow compile ${path} -o OUT/\``;
    case "target": return "this is a target description: give it to `tierflow compile --target`";
    case "onnx": return "this is an ONNX model: compile it with `tierflow compile` (verify, run and viz take the plan.json compile writes)";
    case "graph-ir": return "this is graph IR text: compile it with `tierflow compile`, or inspect it with `tierflow inspect`";
  }
}

/** Refuse a file that is a known kind other than `wanted`, saying what it is; return if it is none of them. */
export function refuseOtherKind(path: string, kind: KnownKind | undefined, wanted: KnownKind): void {
  if (kind !== undefined && kind !== wanted) fail(takenBy(kind, path), { file: path });
}
