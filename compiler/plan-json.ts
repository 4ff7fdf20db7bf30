// plan.json: the placement level as JSON, versioned, with a schema in
// ir/placement/plan.schema.json. Keys come out in a fixed order (the order the
// compiler builds objects in), so the same input gives byte-identical files.
// Reading checks the schema and version, then runs the placement verifier.

import { existsSync, readFileSync, realpathSync } from "node:fs";
import { join, relative, sep } from "node:path";
import type { Plan } from "../ir/placement/plan.js";
import { PLAN_VERSION } from "../ir/placement/plan.js";
import { verifyPlan } from "../ir/placement/verify.js";
import { fail, withLocation } from "../ir/diagnostics.js";
import { kindOfBinary, kindOfJson, refuseOtherKind } from "./file-kind.js";
import { readJsonFile } from "../ir/json-file.js";
import type { Schema } from "../ir/json-schema.js";
import { validateJson } from "../ir/json-schema.js";
import type { Target } from "../targets/target.js";
import { loadTarget } from "../targets/target.js";

const HERE = import.meta.dirname;
const SCHEMA = existsSync(join(HERE, "..", "ir", "placement", "plan.schema.json"))
  ? join(HERE, "..", "ir", "placement", "plan.schema.json")
  : join(HERE, "..", "..", "ir", "placement", "plan.schema.json");
// Parsed once, so validateJson compiles it once per process.
let schema: Schema | undefined;

/** The plan as written into `dir`: it records its model's path relative to that folder (docs/ARCHITECTURE.md, "Runtime"). */
export function planInFolder(plan: Plan, dir: string): Plan {
  const given = plan.model.given;
  if (given === undefined) return plan;
  const path = relative(realpathSync(dir), given).split(sep).join("/");
  return { ...plan, model: { ...plan.model, path } };
}

/**
 * A plan as plan.json text (what `tierflow compile` writes; {@link readPlan} reads it back).
 *
 * @example
 * ```ts
 * import { writeFileSync } from "node:fs";
 * import { compile, planToJson } from "tierflow";
 *
 * const { plan } = await compile("examples/models/gpt2-tiny.dynamo.onnx", { target: "sn40l" });
 * writeFileSync("gpt2-tiny.plan.json", planToJson(plan));
 * ```
 */
export function planToJson(plan: Plan): string {
  return `${JSON.stringify(plan, null, 1)}\n`;
}

/**
 * Read, validate and verify a plan.json, and load its target; `target` overrides the plan's
 * own target name (a custom target file). A file that is not a plan (a CoE plan, a model), a
 * plan of another schema version, one that fails the schema or the plan verifier throws a
 * TierflowError naming the file.
 *
 * @example
 * ```ts
 * import { writeFileSync } from "node:fs";
 * import { compile, planToJson, readPlan } from "tierflow";
 *
 * const compiled = await compile("examples/models/gpt2-tiny.dynamo.onnx", { target: "sn40l" });
 * writeFileSync("gpt2-tiny.plan.json", planToJson(compiled.plan));
 * const { plan, target } = readPlan("gpt2-tiny.plan.json");
 * console.log(plan.prediction.seconds, target.name);
 * ```
 */
export function readPlan(path: string, target?: Target): { plan: Plan; target: Target } {
  let json: unknown;
  try {
    json = readJsonFile(path, "plan");
  } catch (err) {
    refuseOtherKind(path, kindOfBinary(path), "plan");
    throw err;
  }
  refuseOtherKind(path, kindOfJson(json), "plan");
  const version = (json as { version?: unknown })?.version;
  if (typeof version === "number" && version > PLAN_VERSION) {
    fail(`plan has schema version ${version}; this tierflow reads version ${PLAN_VERSION} (a newer tierflow wrote it)`, { file: path });
  }
  if (typeof version === "number" && version < PLAN_VERSION) {
    fail(`plan has schema version ${version}; this tierflow reads version ${PLAN_VERSION}: compile the model again`, { file: path });
  }
  schema ??= JSON.parse(readFileSync(SCHEMA, "utf8")) as Schema;
  const err = validateJson(json, schema);
  if (err) fail(`not a valid plan: ${err}`, { file: path });
  const plan = json as Plan;
  // compile records the target's name; a hand-edited plan may not make tierflow read a file it names.
  if (target === undefined && /[\\/\0]|\.json$/i.test(plan.target)) {
    fail(`plan names its target as '${plan.target}', a path: a plan names a preset, and a target file is given with --target`, { file: path });
  }
  const t = target ?? withLocation({ file: path }, () => loadTarget(plan.target));
  withLocation({ file: path }, () => verifyPlan(plan, t));
  return { plan, target: t };
}
