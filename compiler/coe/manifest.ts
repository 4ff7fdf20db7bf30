// A Composition of Experts manifest (docs/COE.md, manifest.schema.json): a
// router model, its output index -> expert mapping, and the experts, each an
// ONNX model of its own or a graph shared with other experts plus its own
// weights file. Every path is resolved inside the manifest's folder: absolute
// paths, ".." and symlinks that lead out are refused, as for external data.

import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fail } from "../../ir/diagnostics.js";
import { kindOfJson, refuseOtherKind } from "../file-kind.js";
import { readJsonFile } from "../../ir/json-file.js";
import type { Schema } from "../../ir/json-schema.js";
import { validateJson } from "../../ir/json-schema.js";
import { checkRelativeLocation, resolveInside } from "../../ir/contained-path.js";

export interface ManifestExpert {
  readonly name: string;
  /** The graph file (relative to the manifest folder, posix). Experts with one graph share its compiled plan. */
  readonly graph: string;
  /** This expert's weights file replacing the graph's external data file, or undefined for the graph's own weights. */
  readonly weights?: string;
  /** Expected request share, when the manifest gives one. */
  readonly share?: number;
}

/**
 * A Composition of Experts manifest, parsed and checked (docs/COE.md): a router model, its
 * output index -> expert mapping, and the experts; every path normalised inside the
 * manifest's folder.
 */
export interface Manifest {
  /** The manifest's path, as given. */
  readonly file: string;
  /** The manifest's folder, absolute: every path below is relative to it. */
  readonly dir: string;
  readonly description: string;
  /** A preset name, or the resolved path of a target file inside the manifest's folder. */
  readonly target?: string;
  /** The router's model file, and which expert each of its output indices selects. */
  readonly router: { readonly model: string; readonly routes: ReadonlyMap<number, string> };
  /** The experts, in the manifest's order. */
  readonly experts: readonly ManifestExpert[];
  /** Graph path -> the external data location (relative to the graph's folder) that an expert's weights replace. */
  readonly sharedData: ReadonlyMap<string, string>;
}

// Built code runs from dist/compiler/coe: the schema stays in the source tree.
const SCHEMA_FILE = existsSync(join(import.meta.dirname, "manifest.schema.json"))
  ? join(import.meta.dirname, "manifest.schema.json")
  : join(import.meta.dirname, "..", "..", "..", "compiler", "coe", "manifest.schema.json");

let schema: Schema | undefined;
export function manifestSchema(): Schema {
  schema ??= JSON.parse(readFileSync(SCHEMA_FILE, "utf8")) as Schema;
  return schema;
}

/** True when a parsed JSON value declares itself a CoE manifest. */
export function isManifestJson(value: unknown): boolean {
  return typeof value === "object" && value !== null && (value as { format?: unknown }).format === "tierflow-coe";
}

/** Router outputs are a tensor's last axis: an index past int32 cannot be one. */
const MAX_ROUTE_INDEX = 2 ** 31 - 2;

/** The manifest's folder in place of the model's, in the messages shared with external data. */
function manifestWords(err: unknown): string {
  return (err as Error).message.replace("external data location", "path").replace("external data '", "path '").replace("model's folder", "manifest's folder");
}

/**
 * Check a path from the manifest lexically and that it stays inside the
 * manifest's folder; returns it normalised and, when it exists, resolved.
 */
function resolvePath(dir: string, location: string, what: string, file: string, mustExist: boolean): { normal: string; real?: string } {
  let normal: string, real: string | undefined;
  try {
    normal = checkRelativeLocation(location, what);
    real = resolveInside(dir, normal, what);
  } catch (err) {
    fail(manifestWords(err), { file });
  }
  if (real === undefined && mustExist) fail(`${what}: '${location}' does not exist`, { file });
  return { normal, ...(real !== undefined ? { real } : {}) };
}

function insidePath(dir: string, location: string, what: string, file: string, mustExist: boolean): string {
  return resolvePath(dir, location, what, file, mustExist).normal;
}

/** A target given as a path (as for --target: it holds "/" or ends in .json), not a preset name. */
export function isTargetPath(target: string): boolean {
  return target.includes("/") || target.includes("\\") || target.endsWith(".json");
}

/**
 * Check a parsed manifest JSON value (from `file`, which names it in errors and whose folder
 * its paths are resolved in) and return it as a {@link Manifest}. A value that fails the
 * schema, a path that leads out of the manifest's folder or does not exist, a route to an
 * undefined expert or shares summing past 1 throws a TierflowError.
 *
 * @example
 * ```ts
 * import { readFileSync } from "node:fs";
 * import { parseManifest } from "tierflow";
 *
 * const file = "examples/coe/coe.json";
 * const manifest = parseManifest(JSON.parse(readFileSync(file, "utf8")), file);
 * console.log(manifest.router.routes); // Map { 0 => "math", 1 => "code", 2 => "chat" }
 * ```
 */
export function parseManifest(value: unknown, file: string): Manifest {
  const err = validateJson(value, manifestSchema());
  if (err) fail(`not a valid CoE manifest: ${err}`, { file });
  const m = value as {
    description?: string; target?: string;
    router: { model: string; routes: Record<string, string> };
    experts: Record<string, { model?: string; graph?: string; weights?: string; share?: number }>;
    shared_graphs?: Record<string, { external_data_location: string }>;
  };
  const dir = dirname(resolve(file));
  // A target file, like every other path, stays inside the manifest's folder; a preset name stays as it is.
  const target = m.target !== undefined && isTargetPath(m.target) ? resolvePath(dir, m.target, "target", file, true).real : m.target;
  const routerModel = insidePath(dir, m.router.model, "router model", file, true);
  const experts: ManifestExpert[] = [];
  for (const [name, e] of Object.entries(m.experts)) {
    const what = `expert '${name}'`;
    if ((e.model === undefined) === (e.graph === undefined)) fail(`${what}: give either "model" or "graph" (with "weights")`, { file });
    if (e.model !== undefined && e.weights !== undefined) fail(`${what}: "weights" goes with "graph", not "model"`, { file });
    const graph = insidePath(dir, (e.model ?? e.graph)!, what, file, true);
    const weights = e.weights !== undefined ? insidePath(dir, e.weights, `${what} weights`, file, false) : undefined;
    experts.push({ name, graph, ...(weights !== undefined ? { weights } : {}), ...(e.share !== undefined ? { share: e.share } : {}) });
  }
  const shares = experts.reduce((sum, e) => sum + (e.share ?? 0), 0);
  if (shares > 1 + 1e-9) fail(`the experts' shares sum to ${shares}: a share is the fraction of requests an expert gets, so together they are at most 1`, { file });
  const names = new Set(experts.map((e) => e.name));
  const routes = new Map<number, string>();
  for (const [index, expert] of Object.entries(m.router.routes)) {
    // One spelling per index ("1", not "01"), so two keys never name one output.
    if (!/^(0|[1-9]\d*)$/.test(index)) fail(`router route '${index}' must be an output index written as 0, 1, 2, ... (no sign, no leading zeros)`, { file });
    if (Number(index) > MAX_ROUTE_INDEX) fail(`router route ${index} is beyond the largest output index a router can have (${MAX_ROUTE_INDEX})`, { file });
    if (!names.has(expert)) fail(`router route ${index} names expert '${expert}', which the manifest does not define`, { file });
    routes.set(Number(index), expert);
  }
  const sharedData = new Map<string, string>();
  for (const [graph, s] of Object.entries(m.shared_graphs ?? {})) {
    const g = insidePath(dir, graph, `shared graph '${graph}'`, file, false);
    sharedData.set(g, checkRelativeLocation(s.external_data_location, `shared graph '${graph}'`));
  }
  for (const e of experts) {
    if (e.weights !== undefined && !sharedData.has(e.graph)) {
      fail(`expert '${e.name}' binds weights to '${e.graph}', which "shared_graphs" does not describe (its external data location is needed)`, { file });
    }
  }
  return {
    file, dir, description: m.description ?? "", ...(target !== undefined ? { target } : {}),
    router: { model: routerModel, routes }, experts, sharedData,
  };
}

/**
 * Read and check a CoE manifest file, as {@link parseManifest} does. A file that cannot be
 * read, is another kind of tierflow file (a CoE plan, a plan) or is no valid manifest throws a
 * TierflowError naming the file.
 *
 * @example
 * ```ts
 * import { readManifest } from "tierflow";
 *
 * const manifest = readManifest("examples/coe/coe.json");
 * for (const expert of manifest.experts) console.log(expert.name, expert.graph, expert.weights ?? "");
 * ```
 */
export function readManifest(file: string): Manifest {
  const json = readJsonFile(file, "CoE manifest");
  refuseOtherKind(file, kindOfJson(json), "coe-manifest");
  return parseManifest(json, file);
}
