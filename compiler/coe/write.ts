// Writing a compiled CoE: OUT/coe-plan.json, one plan.json per compiled graph
// and phase, and report.txt.

import { existsSync, readFileSync, statSync } from "node:fs";
import { join, dirname } from "node:path";
import type { Schema } from "../../ir/json-schema.js";
import { validateJson } from "../../ir/json-schema.js";
import { fail } from "../../ir/diagnostics.js";
import { kindOfFile, kindOfJson, refuseOtherKind } from "../file-kind.js";
import { readJsonFile } from "../../ir/json-file.js";
import type { FolderFile } from "../emit.js";
import { ensureDir, writeFolder } from "../emit.js";
import { planInFolder, planToJson } from "../plan-json.js";
import { renderCoePage } from "../viz/coe-page.js";
import { renderPlanHtml } from "../viz/render.js";
import { formatSeconds } from "../report.js";
import type { CoeCompileResult, CoePlan } from "./compile-coe.js";
import { COE_PLAN_VERSION } from "./compile-coe.js";

const GB = 1e9;

export function formatCoeReport(p: CoePlan): string {
  const lines = [
    `CoE on one ${p.target} node (${p.node.sockets} sockets): router + ${p.experts.length} experts over ${p.graphs.length} compiled graph(s)`,
    ...p.node.notes.map((n) => `  note: ${n}`),
    `HBM ${(p.node.hbmBytes / GB).toFixed(1)} GB: router + KV ${(p.residency.hbmReservedBytes / GB).toFixed(3)} GB, active region ${(p.residency.activeRegionBytes / GB).toFixed(3)} GB, pinned ${(p.residency.pinnedBytes / GB).toFixed(3)} GB${p.residency.fitsHbm ? "" : " (an expert does not fit in HBM)"}`,
    `${p.node.switchPath === "ddr->hbm" ? "DDR" : "host memory"} ${(p.node.memoryBytes / GB).toFixed(0)} GB: experts ${(p.residency.ddrBytes / GB).toFixed(3)} GB${p.residency.spilledToStorage > 0 ? `; ${p.residency.spilledToStorage} experts do not fit and come from storage (out of memory)` : ""}`,
    `router: ${formatSeconds(p.router.seconds)} per prompt`,
    ...p.graphs.map((g) => `graph ${g.id} ${g.file}${g.layout ? ` (${g.layout})` : ""}: weights ${(g.weightBytes / GB).toFixed(3)} GB, prefill ${formatSeconds(g.prefillSeconds)} (seq ${p.options.seq}), decode step ${g.decodeSteps.map((d) => `${formatSeconds(d.seconds)} at batch ${d.batch}`).join(", ")} (context ${p.options.context})`),
  ];
  const shown = p.experts.slice(0, 20);
  for (const e of shown) {
    lines.push(`  expert ${e.name.padEnd(12)} ${e.graph} ${e.home.padEnd(7)} switch ${e.home === "hbm" ? "none (pinned)" : formatSeconds(e.switchSeconds)}${e.weights ? `  weights ${e.weights}` : ""}`);
  }
  if (p.experts.length > shown.length) lines.push(`  ... ${p.experts.length - shown.length} more experts (coe-plan.json lists all)`);
  return `${lines.join("\n")}\n`;
}

/**
 * Write a compiled CoE into the folder `out` (coe-plan.json, report.txt and every plan) and
 * return the report's text; with `viz`, a page beside each plan (router/,
 * graphs/<id>/prefill.plan.html, ...) and OUT/index.html, the CoE's overview. A folder that
 * cannot be written throws a TierflowError.
 *
 * @example
 * ```ts
 * import { compileCoe, readManifest, writeCoe } from "tierflow";
 *
 * const compiled = await compileCoe(readManifest("examples/coe/coe.json"));
 * console.log(writeCoe("out/coe", compiled, true)); // then `tierflow simulate out/coe`
 * ```
 */
export function writeCoe(out: string, r: CoeCompileResult, viz = false): string {
  const files: FolderFile[] = [];
  for (const [name, plan] of r.plans) {
    const dir = join(out, dirname(name));
    ensureDir(dir); // planInFolder records the model's path relative to the folder, which must exist
    files.push([name, () => planToJson(planInFolder(plan, dir))]);
    if (viz) files.push([name.replace(/\.json$/, ".html"), () => renderPlanHtml(plan, r.target)]);
  }
  const report = formatCoeReport(r.plan);
  validateCoePlan(JSON.parse(JSON.stringify(r.plan)), join(out, "coe-plan.json")); // what we write must read back
  // One step, as a single plan's folder: coe-plan.json, which names the rest, comes last.
  const overview: FolderFile[] = viz ? [["index.html", () => renderCoePage(r.plan, [...r.plans.keys()])]] : [];
  writeFolder(out, [...files, ...overview, ["report.txt", () => report], ["coe-plan.json", () => `${JSON.stringify(r.plan, null, 2)}\n`]]);
  return report;
}

// Built code runs from dist/compiler/coe: the schema stays in the source tree.
const SCHEMA_FILE = existsSync(join(import.meta.dirname, "coe-plan.schema.json"))
  ? join(import.meta.dirname, "coe-plan.schema.json")
  : join(import.meta.dirname, "..", "..", "..", "compiler", "coe", "coe-plan.schema.json");
let schema: Schema | undefined;

/** Check a parsed coe-plan.json against compiler/coe/coe-plan.schema.json. */
export function validateCoePlan(value: unknown, file: string): CoePlan {
  const v = value as Partial<CoePlan> | null;
  if (typeof v !== "object" || v === null || v.format !== "tierflow-coe-plan") fail("not a CoE plan (format is not tierflow-coe-plan): compile a manifest first", { file });
  if (v.version !== COE_PLAN_VERSION) fail(`CoE plan version ${String(v.version)} is not ${COE_PLAN_VERSION}: compile again`, { file });
  schema ??= JSON.parse(readFileSync(SCHEMA_FILE, "utf8")) as Schema;
  const err = validateJson(value, schema);
  if (err) fail(`not a valid CoE plan: ${err}`, { file });
  return v as CoePlan;
}

/**
 * Read and validate OUT/coe-plan.json from a folder {@link writeCoe} wrote. A folder without
 * one (a single model's plan folder, a plan file), a plan of another version or one that
 * fails the schema throws a TierflowError naming the file.
 *
 * @example
 * ```ts
 * import { generateTrace, readCoePlan, simulate } from "tierflow";
 *
 * const plan = readCoePlan("out/coe");
 * const trace = generateTrace({ experts: plan.experts.map((e) => e.name), requests: 200, rate: 4, distribution: "uniform", seed: 1 });
 * const { result } = simulate(plan, trace, "auto");
 * console.log(result.policy, result.latencyP99);
 * ```
 */
export function readCoePlan(out: string): CoePlan {
  const file = join(out, "coe-plan.json");
  // A single model's plan folder, or a plan file given for the folder: say so rather than that coe-plan.json is missing.
  if (!existsSync(file)) {
    const single = existsSync(join(out, "plan.json")) ? join(out, "plan.json") : out;
    refuseOtherKind(single, existsSync(single) && !statSync(single).isDirectory() ? kindOfFile(single) : undefined, "coe-plan");
  }
  const json = readJsonFile(file, "CoE plan");
  refuseOtherKind(file, kindOfJson(json), "coe-plan");
  return validateCoePlan(json, file);
}
