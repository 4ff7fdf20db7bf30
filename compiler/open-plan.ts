// Open a plan for execution and refuse one that cannot be trusted: readPlan
// checks the schema, the version and the placement verifier; here the model
// file must be the one the plan was compiled from (plan.model.sha256), and
// the graph module is rebuilt by compiling that file again with the plan's
// options. Compilation is deterministic, so this yields the graph the plan's
// kernels were lowered from, whose node names the kernels carry; a plan whose
// kernels name nodes that graph lacks is refused when it runs.

import { createHash } from "node:crypto";
import { closeSync, existsSync, readSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { Module } from "../ir/graph/graph.js";
import type { Plan } from "../ir/placement/plan.js";
import { fail } from "../ir/diagnostics.js";
import { openRegularFile } from "../ir/read-file.js";
import { readPlan } from "./plan-json.js";
import { loadFused } from "./compile.js";
import type { Target } from "../targets/target.js";
import { loadTarget } from "../targets/target.js";

export interface OpenedPlan {
  readonly plan: Plan;
  readonly planPath: string;
  readonly target: Target;
  readonly modelPath: string;
  readonly modelDir: string;
  readonly graph: Module;
}

export interface OpenOptions {
  /** The model file; by default the one the plan records (findModel). */
  readonly model?: string;
  /** A target file for a plan compiled for a custom target. */
  readonly target?: string;
}

/** sha256 of a file, read in chunks so a large model file is never in memory whole. */
export function fileSha256(path: string): string {
  const hash = createHash("sha256");
  const buffer = new Uint8Array(1 << 20);
  const { fd } = openRegularFile(path, "the model file", { file: path });
  try {
    for (let n; (n = readSync(fd, buffer, 0, buffer.length, null)) > 0;) hash.update(buffer.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest("hex");
}

/**
 * The model file a plan runs with: `--model` when given; otherwise, in order,
 * the path the plan records relative to its folder, the file name beside the
 * plan, the path compile was given (from the current folder) and the file name
 * in the current folder. Only regular files count, and the first whose sha256
 * is the plan's wins, so a stale copy on the way never hides the right one.
 */
function findModel(plan: Plan, planPath: string, given: string | undefined): string {
  if (given !== undefined) {
    if (!existsSync(given) || !statSync(given).isFile()) fail("cannot read the model file: it does not exist or is not a file", { file: given });
    checkModelIdentity(plan, planPath, given);
    return given;
  }
  // compile records a bare file name: a hand-edited plan may not point elsewhere through it.
  const file = plan.model.file;
  if (file === "" || file === "." || file === ".." || /[\\/\0]/.test(file) || /^[A-Za-z]:/.test(file)) {
    fail(`the plan names its model as '${file}', which is not a plain file name (a plan names no folders): give the model with --model`, { file: planPath });
  }
  const recorded = (p: string | undefined) => (p !== undefined && p !== "" && !p.includes("\0") ? [p] : []);
  const candidates = [
    ...recorded(plan.model.path).map((p) => join(dirname(planPath), p)), join(dirname(planPath), file),
    ...recorded(plan.model.given), resolve(file),
  ].filter((p, i, all) => all.indexOf(p) === i);
  const found = candidates.filter((p) => existsSync(p) && statSync(p).isFile());
  const match = found.find((p) => fileSha256(p) === plan.model.sha256);
  if (match) return match;
  if (found.length > 0) checkModelIdentity(plan, planPath, found[0]!);
  fail(`cannot find '${plan.model.file}', the model the plan was compiled from (looked at ${candidates.map((c) => `'${c}'`).join(", ")}): give it with --model`, { file: planPath });
}

/** Check that `modelPath` is the file the plan was compiled from. */
export function checkModelIdentity(plan: Plan, planPath: string, modelPath: string): void {
  const sha = fileSha256(modelPath);
  if (sha !== plan.model.sha256) {
    fail(`the plan was compiled from a model file with sha256 ${plan.model.sha256.slice(0, 16)}... ('${plan.model.file}'), but '${modelPath}' has sha256 ${sha.slice(0, 16)}...`, { file: planPath });
  }
}

/**
 * The graph module a plan was lowered from: its model imported and fused at the
 * plan's -O level (compile lowers that same fused graph, whatever the phase,
 * sizes or layout, so nothing else needs compiling again).
 */
export async function graphOfPlan(plan: Plan, modelPath: string): Promise<Module> {
  return (await loadFused(modelPath, { opt: plan.options.opt })).graph;
}

export async function openPlan(planPath: string, options: OpenOptions = {}): Promise<OpenedPlan> {
  const { plan, target } = readPlan(planPath, options.target !== undefined ? loadTarget(options.target) : undefined);
  const modelPath = findModel(plan, planPath, options.model);
  const graph = await graphOfPlan(plan, modelPath);
  return { plan, planPath, target, modelPath, modelDir: dirname(resolve(modelPath)), graph };
}
