// The placement level's textual form (docs/IR-TEXT.md, "The dataflow and
// placement levels"): printPlacement and parsePlacement cover every field of a
// Plan, the dataflow module it embeds included (printed in place by the
// dataflow printer), so parse(print(p)) deep-equals p. Sections, tiers and
// kernels are not cross-checked here: that is verifyPlan's job (it needs the target).
// A node-level plan's `parallel` block is printed and read by parallel-text.ts.

import type { IToken } from "chevrotain";
import { withLocation } from "../diagnostics.js";
import { errorAt } from "../graph/text/cst.js";
import { symbolName, valueName } from "../graph/text/format.js";
import { buildDataflow, dataflowLines, indentedGroups, lazyLines, phaseCodec } from "../dataflow/text.js";
import type { LineGroup } from "../dataflow/text.js";
import { entriesOf, formatAttrs, formatDict, int, intOneOf, listOf, num, oneOf, readAttrs, readDict, statementLine, str } from "../lower-text/attrs.js";
import { buildParallel, parallelLines } from "./parallel-text.js";
import type { Schema, ValuesOf } from "../lower-text/attrs.js";
import type { Statement } from "../lower-text/statements.js";
import { buildOnlyStatement, groupStatements, leaf, readStatements, uniquelyNamed } from "../lower-text/statements.js";
import type { Allocation, KernelAllocation, Plan, Prediction, Section, SectionCost, TierName, Transfer } from "./plan.js";

// Records keyed by the union make the compiler check that every member is listed.
const TIERS: Readonly<Record<TierName, true>> = { sram: true, hbm: true, ddr: true };
const BOUNDS: Readonly<Record<SectionCost["bound"], true>> = { compute: true, hbm: true, ddr: true, sram: true, link: true, overhead: true };
const FLOOR_BOUNDS: Readonly<Record<Prediction["floorBound"], true>> = { compute: true, weights: true, memory: true };
const tierNames = Object.keys(TIERS) as TierName[];

const PLACEMENT_ATTRS = { version: int, target: str } satisfies Schema;
// `given` and `path` print as "" where the plan has none (a plan made in memory, not yet written to a folder).
const MODEL_ATTRS = { file: str, sha256: str, given: str, path: str } satisfies Schema;
const OPTIONS_ATTRS = { opt: intOneOf("optimisation level", [0, 1, 2] as const), phase: phaseCodec, batch: int, seq: int, dtype: str } satisfies Schema;
const SECTION_ATTRS = { initiation_interval: num, compute_units: int, memory_units: int, sram_bytes: num } satisfies Schema;
const KERNEL_ALLOCATION_ATTRS = { compute_units: int, memory_units: int, utilisation: num, seconds: num } satisfies Schema;
const COST_ATTRS = {
  compute_seconds: num, hbm_seconds: num, ddr_seconds: num, sram_seconds: num, overhead_seconds: num,
  seconds: num, bound: oneOf("bound", Object.keys(BOUNDS) as SectionCost["bound"][]), hbm_bytes: num, ddr_bytes: num,
} satisfies Schema;
/** Sections of node-level plans that hold collectives also carry their link time. */
const COST_LINK_ATTRS = { ...COST_ATTRS, link_seconds: num, link_latency_seconds: num } satisfies Schema;
/** `live`: the first and last section the allocation is live in. */
const ALLOCATION_ATTRS = { tier: oneOf("tier", tierNames), offset: int, bytes: int, live: listOf(int, 2) } satisfies Schema;
const TRANSFER_ATTRS = {
  from: oneOf<TierName | "host">("tier", ["host", ...tierNames]), to: oneOf<TierName | "host">("tier", ["host", ...tierNames]),
  bytes: num, before_section: int, seconds: num,
} satisfies Schema;
const OCCUPANCY_ATTRS = { sram: num, hbm: num, ddr: num } satisfies Schema;
const PREDICTION_ATTRS = {
  seconds: num, tokens_per_second: num, floor_seconds: num,
  floor_bound: oneOf("floor bound", Object.keys(FLOOR_BOUNDS) as Prediction["floorBound"][]), ratio_to_floor: num,
} satisfies Schema;

const INDENT = "  ";

export function printPlacement(p: Plan): string {
  return [...printPlacementPieces(p)].join("");
}

/** printPlacement's text a line at a time, so a plan of many kernels is written without holding all of it. */
export function* printPlacementPieces(p: Plan): Generator<string> {
  const { model, options: o, prediction: pr } = p;
  const header = [
    statementLine("model", [], formatAttrs(MODEL_ATTRS, { file: model.file, sha256: model.sha256, given: model.given ?? "", path: model.path ?? "" }, "model")),
    statementLine("options", [], formatAttrs(OPTIONS_ATTRS, { opt: o.opt, phase: o.phase, batch: o.batch, seq: o.seq, dtype: o.dtype }, "options")),
    `bindings ${formatDict(int, "names", p.bindings, "bindings")}`,
    `fusion ${formatDict(int, "names", p.fusion, "fusion")}`,
  ];
  // Each group is printed when reached, in the order of the text.
  const summary = later(2, () => [
    statementLine("occupancy", [], formatAttrs(OCCUPANCY_ATTRS, { ...p.occupancy }, "occupancy")),
    statementLine("prediction", [], formatAttrs(PREDICTION_ATTRS, {
      seconds: pr.seconds, tokens_per_second: pr.tokensPerSecond, floor_seconds: pr.floorSeconds,
      floor_bound: pr.floorBound, ratio_to_floor: pr.ratioToFloor,
    }, "prediction")),
  ]);
  const parallel = later(p.parallel ? 1 : 0, () => (p.parallel ? parallelLines(p.parallel, INDENT) : []));
  const dataflow: LineGroup = { length: 1, [Symbol.iterator]: () => dataflowLines(p.dataflow) };
  const sections = p.sections.map((s) => later(1, () => sectionLines(s)));
  const groups = [header, dataflow, ...sections, lazyLines(p.allocations, printAllocation), lazyLines(p.transfers, printTransfer), summary, parallel];
  const attrs = formatAttrs(PLACEMENT_ATTRS, { version: p.version, target: p.target }, "placement");
  yield "// tierflow placement IR\n";
  yield `${statementLine("placement", [], attrs)} {\n`;
  for (const line of indentedGroups(groups)) yield `${line}\n`;
  yield "}\n";
}

/** A group of `length` lines or none (0), printed by `lines` when reached. */
function later(length: number, lines: () => string[]): LineGroup {
  return { length, [Symbol.iterator]: () => lines()[Symbol.iterator]() };
}

function sectionLines(s: Section): string[] {
  const owner = `section ${symbolName(s.name)}`;
  const kernelOwner = (k: KernelAllocation) => () => `${owner} kernel ${symbolName(k.kernel)}`;
  const attrs = formatAttrs(SECTION_ATTRS, {
    initiation_interval: s.initiationInterval, compute_units: s.computeUnits, memory_units: s.memoryUnits, sram_bytes: s.sramBytes,
  }, owner);
  const kernels = s.kernels.map((k) => statementLine("kernel", [symbolName(k.kernel)], formatAttrs(KERNEL_ALLOCATION_ATTRS, {
    compute_units: k.computeUnits, memory_units: k.memoryUnits, utilisation: k.utilisation, seconds: k.seconds,
  }, kernelOwner(k))));
  const c = s.cost;
  const values = {
    compute_seconds: c.computeSeconds, hbm_seconds: c.hbmSeconds, ddr_seconds: c.ddrSeconds, sram_seconds: c.sramSeconds,
    overhead_seconds: c.overheadSeconds, seconds: c.seconds, bound: c.bound, hbm_bytes: c.hbmBytes, ddr_bytes: c.ddrBytes,
  };
  const cost = statementLine("cost", [], c.linkSeconds === undefined
    ? formatAttrs(COST_ATTRS, values, `${owner} cost`)
    : formatAttrs(COST_LINK_ATTRS, { ...values, link_seconds: c.linkSeconds, link_latency_seconds: c.linkLatencySeconds ?? 0 }, `${owner} cost`));
  return [`${statementLine("section", [symbolName(s.name)], attrs)} {`, ...[...kernels, cost].map((l) => INDENT + l), "}"];
}

function printAllocation(a: Allocation): string {
  return statementLine("alloc", [valueName(a.tensor)], formatAttrs(ALLOCATION_ATTRS, {
    tier: a.tier, offset: a.offset, bytes: a.bytes, live: [a.firstSection, a.lastSection],
  }, () => `alloc of ${valueName(a.tensor)}`));
}

function printTransfer(t: Transfer): string {
  return statementLine("transfer", [valueName(t.tensor)], formatAttrs(TRANSFER_ATTRS, {
    from: t.from, to: t.to, bytes: t.bytes, before_section: t.beforeSection, seconds: t.seconds,
  }, () => `transfer of ${valueName(t.tensor)}`));
}

export function parsePlacement(text: string, file?: string): Plan {
  return withLocation(file === undefined ? {} : { file }, () => buildOnlyStatement(readStatements(text), "placement", buildPlacement));
}

function buildPlacement(statement: Statement): Plan {
  statement.head.end();
  const attrs = readAttrs(PLACEMENT_ATTRS, statement, "placement");
  const parts = groupStatements(statement, "placement",
    ["model", "options", "bindings", "fusion", "dataflow", "occupancy", "prediction"], ["section", "alloc", "transfer", "parallel"]);
  const parallel = parts.many("parallel");
  if (parallel.length > 1) throw errorAt(parallel[1]!.keywordToken, "'parallel' is given twice in placement");
  const model = readAttrs(MODEL_ATTRS, leaf(parts.one("model")), "model");
  const o = readAttrs(OPTIONS_ATTRS, leaf(parts.one("options")), "options");
  const pr = readAttrs(PREDICTION_ATTRS, leaf(parts.one("prediction")), "prediction");
  return {
    version: attrs.version,
    model: { file: model.file, sha256: model.sha256, ...(model.given !== "" ? { given: model.given } : {}), ...(model.path !== "" ? { path: model.path } : {}) },
    target: attrs.target,
    options: { opt: o.opt, phase: o.phase, batch: o.batch, seq: o.seq, dtype: o.dtype },
    bindings: readDict(int, "names", leaf(parts.one("bindings")).attrs),
    fusion: readDict(int, "names", leaf(parts.one("fusion")).attrs),
    dataflow: buildDataflow(parts.one("dataflow")),
    sections: uniquelyNamed(parts.many("section"), buildSection, "section", symbolName),
    allocations: parts.many("alloc").map(buildAllocation),
    transfers: parts.many("transfer").map(buildTransfer),
    occupancy: readAttrs(OCCUPANCY_ATTRS, leaf(parts.one("occupancy")), "occupancy"),
    prediction: {
      seconds: pr.seconds, tokensPerSecond: pr.tokens_per_second, floorSeconds: pr.floor_seconds,
      floorBound: pr.floor_bound, ratioToFloor: pr.ratio_to_floor,
    },
    ...(parallel[0] ? { parallel: buildParallel(parallel[0]) } : {}),
  };
}

function buildSection(statement: Statement): { value: Section; token: IToken } {
  const { name, token } = statement.head.symbol("a section name (@name)");
  statement.head.end();
  const owner = `section ${symbolName(name)}`;
  const a = readAttrs(SECTION_ATTRS, statement, owner);
  const parts = groupStatements(statement, owner, ["cost"], ["kernel"]);
  const kernels = uniquelyNamed(parts.many("kernel"), (s) => buildKernelAllocation(s, owner), "kernel", symbolName).map(({ name: _, ...k }) => k);
  const costStatement = leaf(parts.one("cost"));
  const linked = entriesOf(costStatement.attrs).some(({ key }) => key.image === "link_seconds");
  const c: Partial<ValuesOf<typeof COST_LINK_ATTRS>> & ValuesOf<typeof COST_ATTRS> =
    linked ? readAttrs(COST_LINK_ATTRS, costStatement, `${owner} cost`) : readAttrs(COST_ATTRS, costStatement, `${owner} cost`);
  const cost: SectionCost = {
    computeSeconds: c.compute_seconds, hbmSeconds: c.hbm_seconds, ddrSeconds: c.ddr_seconds, sramSeconds: c.sram_seconds,
    overheadSeconds: c.overhead_seconds, seconds: c.seconds, bound: c.bound, hbmBytes: c.hbm_bytes, ddrBytes: c.ddr_bytes,
    ...(c.link_seconds !== undefined ? { linkSeconds: c.link_seconds, linkLatencySeconds: c.link_latency_seconds ?? 0 } : {}),
  };
  const value: Section = {
    name, kernels, initiationInterval: a.initiation_interval, computeUnits: a.compute_units, memoryUnits: a.memory_units,
    sramBytes: a.sram_bytes, cost,
  };
  return { value, token };
}

// `name` lets uniquelyNamed refuse a kernel listed twice in one section; it is dropped after.
function buildKernelAllocation(statement: Statement, owner: string): { value: KernelAllocation & { name: string }; token: IToken } {
  const { name, token } = statement.head.symbol("a kernel name (@name)");
  leaf(statement);
  const a = readAttrs(KERNEL_ALLOCATION_ATTRS, statement, `${owner} kernel ${symbolName(name)}`);
  const value = { name, kernel: name, computeUnits: a.compute_units, memoryUnits: a.memory_units, utilisation: a.utilisation, seconds: a.seconds };
  return { value, token };
}

function buildAllocation(statement: Statement): Allocation {
  const tensor = statement.head.tensor("the allocated tensor (%name)").name;
  leaf(statement);
  const a = readAttrs(ALLOCATION_ATTRS, statement, `alloc of ${valueName(tensor)}`);
  return { tensor, tier: a.tier, offset: a.offset, bytes: a.bytes, firstSection: a.live[0]!, lastSection: a.live[1]! };
}

function buildTransfer(statement: Statement): Transfer {
  const tensor = statement.head.tensor("the transferred tensor (%name)").name;
  leaf(statement);
  const a = readAttrs(TRANSFER_ATTRS, statement, `transfer of ${valueName(tensor)}`);
  return { tensor, from: a.from, to: a.to, bytes: a.bytes, beforeSection: a.before_section, seconds: a.seconds };
}
