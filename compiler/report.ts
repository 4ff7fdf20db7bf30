// The human-readable compile report: sections, units, tier occupancy,
// predicted time beside the roofline floor, fused-op counts, the KV cache and,
// for node-level plans, the layout over the node (node/report-node.ts).

import type { Plan, Section } from "../ir/placement/plan.js";
import type { DfKernel } from "../ir/dataflow/dataflow.js";
import type { Target } from "../targets/target.js";
import { sramBytes } from "../targets/target.js";
import { formatBytes, formatSeconds } from "./format.js";
import type { LayoutTrial } from "./node/compile-node.js";
import { kvReportLines, nodeReportLines } from "./node/report-node.js";
import { floorBytes, workWords } from "./work-words.js";
import { kernelLooping } from "./cost/efficiency.js";

const SECTIONS_LISTED = 24;

export { formatSeconds } from "./format.js";

function percent(part: number, whole: number): string {
  return whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : "-";
}

function sectionLine(s: Section, kernels: ReadonlyMap<string, DfKernel>): string {
  const device = s.kernels.filter((k) => k.computeUnits > 0);
  // The first few ops say what the section is; the line shows at most 70 characters of them.
  let ops = "";
  for (let i = 0; i < device.length && ops.length <= 70; i++) ops += `${i > 0 ? " " : ""}${kernels.get(device[i]!.kernel)!.ops.join("+")}`;
  const shown = ops.length > 70 ? `${ops.slice(0, 67)}...` : ops;
  return `  ${s.name.padEnd(6)} ${String(device.length).padStart(3)} kernels  ${String(s.computeUnits).padStart(5)} CU ${String(s.memoryUnits).padStart(5)} MU  ` +
    `II ${formatSeconds(s.initiationInterval).padStart(10)}  ${formatSeconds(s.cost.seconds).padStart(10)}  ${s.cost.bound.padEnd(8)} ${shown}`;
}

const STAGES_LISTED = 12;

/** The stages of one section: units, utilisation (1 = the bottleneck) and time. */
function stageLines(s: Section, plan: Plan): string[] {
  const kernels = new Map(plan.dataflow.kernels.map((k) => [k.name, k]));
  const stages = s.kernels.filter((k) => k.computeUnits > 0).sort((a, b) => b.seconds - a.seconds);
  const lines = [`  stages of the slowest section, ${s.name} (initiation interval ${formatSeconds(s.initiationInterval)}):`];
  for (const k of stages.slice(0, STAGES_LISTED)) {
    lines.push(`    ${k.kernel.padEnd(7)} ${kernels.get(k.kernel)!.ops.join("+").padEnd(22)} ${String(k.computeUnits).padStart(5)} CU ${String(k.memoryUnits).padStart(4)} MU  utilisation ${(100 * k.utilisation).toFixed(0).padStart(3)}%  ${formatSeconds(k.seconds).padStart(10)}`);
  }
  if (stages.length > STAGES_LISTED) lines.push(`    ... ${stages.length - STAGES_LISTED} more stages`);
  return lines;
}

const NOT_WEIGHTS: ReadonlySet<string> = new Set(["i64", "i32", "bool"]);

/** The weights' element types as planned, most bytes first (an int4 model's scales come after its int4). */
export function weightTypes(plan: Plan): string[] {
  const packed = new Set(plan.dataflow.kernels.filter((k) => k.ops.includes("com.microsoft.MatMulNBits")).map((k) => k.inputs[1]));
  const bytes = new Map<string, number>();
  for (const t of plan.dataflow.tensors) {
    if ((t.role !== "weight" && t.role !== "constant") || NOT_WEIGHTS.has(t.dtype)) continue;
    const what = packed.has(t.name) ? "MatMulNBits blocks" : t.dtype;
    bytes.set(what, (bytes.get(what) ?? 0) + t.bytes);
  }
  return [...bytes].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([d]) => d);
}

/** The weights' element types, and `--dtype` when it re-typed the model's float data. */
function dataLine(plan: Plan): string {
  const weights = weightTypes(plan);
  const planned = plan.options.dtype !== "f32" ? ` (--dtype ${plan.options.dtype}: float data planned as ${plan.options.dtype})` : "";
  return `${weights.length ? `weights ${weights.join(", ")}` : "no weights"}${planned}`;
}

/** `search`: the layouts `--parallel auto` tried, printed as a table. */
export function formatReport(plan: Plan, target: Target, search?: readonly LayoutTrial[]): string {
  const o = plan.options;
  const lines: string[] = [];
  const words = workWords(plan);
  const what = o.phase === "decode" ? `decode, batch ${o.batch}, context ${o.seq}` : words.tokens ? `prefill, batch ${o.batch}, prompt ${o.seq} tokens` : `batch of ${o.batch} ${o.batch === 1 ? words.items.replace(/s$/, "") : words.items}`;
  lines.push(`tierflow plan: ${plan.model.file} on ${target.name} (${target.execution}${kernelLooping(target) ? ", looped decoder" : ""}), -O${o.opt}, ${what}, ${dataLine(plan)}`);
  const fused = Object.entries(plan.fusion);
  lines.push(`fused ops: ${fused.length ? fused.map(([k, v]) => `${k.replace(/^tierflow\./, "")} ${v}`).join(", ") : "none"}`);
  const device = plan.dataflow.kernels.filter((k) => k.kind !== "view" && k.kind !== "host").length;
  lines.push(`kernels: ${plan.dataflow.kernels.length} (${device} on the device), sections: ${plan.sections.length}`);
  const maxCU = Math.max(0, ...plan.sections.map((s) => s.computeUnits));
  const maxMU = Math.max(0, ...plan.sections.map((s) => s.memoryUnits));
  lines.push(`units: up to ${maxCU} of ${target.compute.units} compute, ${maxMU} of ${target.sram.units} memory units in a section`);
  lines.push("", "sections (slowest stage sets the rate; II = time per tile of the slowest stage):");
  const listed = plan.sections.length <= SECTIONS_LISTED ? plan.sections
    : [...plan.sections].sort((a, b) => b.cost.seconds - a.cost.seconds).slice(0, SECTIONS_LISTED).sort((a, b) => plan.sections.indexOf(a) - plan.sections.indexOf(b));
  if (listed.length < plan.sections.length) lines.push(`  (the ${listed.length} slowest of ${plan.sections.length})`);
  const kernels = new Map(plan.dataflow.kernels.map((k) => [k.name, k]));
  for (const s of listed) lines.push(sectionLine(s, kernels));
  const slowest = [...plan.sections].sort((a, b) => b.cost.seconds - a.cost.seconds)[0];
  if (slowest) lines.push(...stageLines(slowest, plan));
  const bounds = new Map<string, number>();
  for (const s of plan.sections) bounds.set(s.cost.bound, (bounds.get(s.cost.bound) ?? 0) + s.cost.seconds);
  lines.push(`  time by bound: ${[...bounds].sort(([, a], [, b]) => b - a).map(([k, v]) => `${k} ${formatSeconds(v)}`).join(", ")}`);
  lines.push("", "tier occupancy (peak):");
  const cap = { sram: sramBytes(target), hbm: target.hbm.bytes, ddr: target.ddr.bytes } as const;
  for (const tier of ["sram", "hbm", "ddr"] as const) {
    lines.push(`  ${tier.toUpperCase().padEnd(5)} ${formatBytes(plan.occupancy[tier]).padStart(12)} of ${formatBytes(cap[tier]).padStart(12)}  ${percent(plan.occupancy[tier], cap[tier]).padStart(6)}`);
  }
  const spilled = plan.allocations.filter((a) => a.tier === "ddr");
  if (spilled.length) lines.push(`  ${spilled.length} tensors in DDR (${formatBytes(spilled.reduce((s, a) => s + a.bytes, 0))})`);
  lines.push(...kvReportLines(plan, target));
  const load = plan.transfers.filter((t) => t.beforeSection < 0).reduce((s, t) => s + t.seconds, 0);
  if (load > 0) lines.push(`  loading weights DDR -> HBM: ${formatSeconds(load)} (once, not in the latency below)`);
  const p = plan.prediction;
  lines.push("");
  lines.push(`predicted: ${formatSeconds(p.seconds)} ${words.per}, ${p.tokensPerSecond.toFixed(1)} ${words.items}/s`);
  lines.push(`floor:     ${formatSeconds(p.floorSeconds)} (${p.floorBound === "compute" ? "all FLOPs at peak" : `${floorBytes(plan)} once at HBM bandwidth`})`);
  lines.push(`ratio:     ${p.ratioToFloor.toFixed(2)}x the floor`);
  lines.push(...nodeReportLines(plan, target, search));
  return `${lines.join("\n")}\n`;
}

/** The report as data: what `tierflow compile --json` prints (compiler/cli/schemas/compile.schema.json). */
export function reportJson(plan: Plan, output: string): Record<string, unknown> {
  const o = plan.options, p = plan.prediction, words = workWords(plan);
  return {
    output, model: plan.model.file, target: plan.target, opt: o.opt, phase: o.phase, batch: o.batch, seq: o.seq,
    weights: weightTypes(plan), fused: Object.fromEntries(Object.entries(plan.fusion).map(([k, v]) => [k.replace(/^tierflow\./, ""), v])),
    kernels: plan.dataflow.kernels.length, deviceKernels: plan.dataflow.kernels.filter((k) => k.kind !== "view" && k.kind !== "host").length,
    sections: plan.sections.length,
    prediction: {
      seconds: p.seconds, per: words.per, rate: p.tokensPerSecond, unit: words.items,
      floorSeconds: p.floorSeconds, floorBound: p.floorBound, ratioToFloor: p.ratioToFloor,
    },
  };
}
