// Target files: the presets in targets/presets/*.json and a user's own file,
// read and checked against targets/target.schema.json into the description
// ir/target.ts defines (re-exported here for the drivers).

import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fail } from "../ir/diagnostics.js";
import { readJsonFile } from "../ir/json-file.js";
import type { Schema } from "../ir/json-schema.js";
import { validateJson } from "../ir/json-schema.js";

export type { CurveAxis, Efficiency, EfficiencyCurve, Execution, NodeSpec, Target, Tier } from "../ir/target.js";
export { peakFlops, sramBytes, socketCount } from "../ir/target.js";
import type { Target } from "../ir/target.js";

const HERE = import.meta.dirname;
// Built code runs from dist/targets: the JSON files stay in the source tree.
const TARGETS_DIR = existsSync(join(HERE, "presets")) ? HERE : join(HERE, "..", "..", "targets");
const PRESETS_DIR = join(TARGETS_DIR, "presets");

let schema: Schema | undefined;
function targetSchema(): Schema {
  schema ??= JSON.parse(readFileSync(join(TARGETS_DIR, "target.schema.json"), "utf8")) as Schema;
  return schema;
}

/** Check a parsed target description against the schema; `file` names it in errors. */
export function validateTarget(value: unknown, file: string): Target {
  const err = validateJson(value, targetSchema());
  if (err) fail(`not a valid target description: ${err}`, { file });
  const t = value as Target;
  if (!t.compute.flopsPerCycle.f32) fail("not a valid target description: $.compute.flopsPerCycle needs an f32 rate", { file });
  for (const [name, curve] of Object.entries(t.efficiency?.curves ?? {})) {
    const at = curve.points.findIndex((p, i) => i > 0 && !(p[0] > curve.points[i - 1]![0]));
    if (at > 0) fail(`not a valid target description: $.efficiency.curves.${name}.points[${at}]: x ${curve.points[at]![0]} does not increase on ${curve.points[at - 1]![0]}`, { file });
  }
  return { ...t, description: t.description ?? "", sources: t.sources ?? {} };
}

export function presetNames(): string[] {
  return readdirSync(PRESETS_DIR).filter((f) => f.endsWith(".json")).map((f) => f.slice(0, -5)).sort();
}

/**
 * A target preset by name ("sn40l", "sn40l-node", "h100", ...), or a target file by path
 * (anything containing "/" or ending in .json), validated against the schema. An unknown
 * preset (the message lists them), an unreadable file or an invalid description throws a
 * TierflowError.
 *
 * @example
 * ```ts
 * import { compile, loadTarget } from "tierflow";
 *
 * const sn40l = loadTarget("sn40l");
 * console.log(sn40l.hbm.bytes, sn40l.compute.units);
 * const custom = loadTarget("targets/presets/toy.json");
 * const { plan } = await compile("examples/models/llama-tiny.dynamo.onnx", { target: custom });
 * ```
 */
export function loadTarget(nameOrPath: string): Target {
  const isPath = nameOrPath.includes("/") || nameOrPath.endsWith(".json");
  const file = isPath ? nameOrPath : join(PRESETS_DIR, `${nameOrPath}.json`);
  if (!isPath && !presetNames().includes(nameOrPath)) {
    fail(`unknown target '${nameOrPath}' (presets: ${presetNames().join(", ")}; or give a path to a target file)`);
  }
  const json = readJsonFile(file, "target file", nameOrPath);
  return validateTarget(json, nameOrPath);
}
