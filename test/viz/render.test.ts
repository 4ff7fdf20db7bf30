// The visualiser's data, without a browser: tier contents add up to the plan's
// occupancy, the graph tree holds every kernel once, embedded JSON cannot end
// its script tag, traces are read leniently, the browser script type-checks
// against the DOM, and the CLI writes the page.

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../compiler/compile.js";
import { planToJson } from "../../compiler/plan-json.js";
import type { Plan } from "../../ir/placement/plan.js";
import { tierCapacity } from "../../ir/placement/verify.js";
import type { Target } from "../../targets/target.js";
import { SCRIPT_DECLARATIONS, SCRIPT_FILES } from "../../compiler/viz/assets.js";
import { attributedSeconds, buildGraph, MAX_RUN_SECTIONS } from "../../compiler/viz/hierarchy.js";
import { jsonForScript, renderPlanHtml } from "../../compiler/viz/render.js";
import { nodeView } from "../../compiler/viz/sockets.js";
import { tierViews } from "../../compiler/viz/tiers.js";
import { traceSpans } from "../../compiler/viz/trace.js";
import { planDigest } from "../../ir/placement/plan-digest.js";
import { runCli, ROOT } from "../support/cli.js";

const llama = join(ROOT, "examples/models/llama-tiny.torchscript.onnx");
const dir = mkdtempSync(join(tmpdir(), "tierflow-viz-"));

/** The JSON text of a <script type="application/json" id=ID> in a page. */
function embedded(html: string, id: string): string {
  const m = new RegExp(`<script type="application/json" id="${id}">([^]*?)</script>`).exec(html);
  if (!m) throw new Error(`no ${id} in the page`);
  return m[1]!;
}

describe("viz data", () => {
  const plans: { name: string; plan: Plan; target: Target }[] = [];
  beforeAll(async () => {
    for (const [target, opt, phase] of [["toy", 0, "prefill"], ["toy", 2, "prefill"], ["sn40l", 2, "decode"]] as const) {
      const r = await compile(llama, { target, opt, phase, seq: 16 });
      plans.push({ name: `${target} -O${opt} ${phase}`, plan: r.plan, target: r.target });
    }
  });

  it("tier bars hold the plan's peak occupancy, each tensor inside the tier", () => {
    for (const { name, plan, target } of plans) {
      for (const view of tierViews(plan, target)) {
        const drawn = view.segments.reduce((sum, g) => sum + g.bytes, 0);
        expect(drawn, `${name} ${view.tier}`).toBe(plan.occupancy[view.tier]);
        expect(view.peak).toBe(plan.occupancy[view.tier]);
        expect(view.capacity).toBe(tierCapacity(target, view.tier));
        expect(view.liveBySection.length).toBe(plan.sections.length);
        for (const g of view.segments) expect(g.offset + g.bytes).toBeLessThanOrEqual(view.capacity);
      }
    }
  });

  it("the graph tree holds every kernel exactly once, grouped by layer", () => {
    for (const { name, plan } of plans) {
      const graph = buildGraph(plan);
      const leaves = graph.nodes.filter((n) => n.level === "kernel").map((n) => n.kernel);
      expect(leaves.sort((a, b) => a! - b!), name).toEqual(plan.dataflow.kernels.map((_, i) => i));
      expect(graph.nodes[0]!.kernels).toBe(plan.dataflow.kernels.length);
      const layers = graph.nodes.filter((n) => /^layers\.\d+$/.test(n.label));
      expect(layers.map((n) => n.label)).toEqual(["layers.0", "layers.1"]);
      for (const [from, to] of graph.edges) expect(graph.nodes[from]!.level === "kernel" && graph.nodes[to]!.level === "kernel").toBe(true);
    }
  });

  it("a graph without layer names (the dynamo exporter's) is cut into groups small enough to lay out", async () => {
    const { plan } = await compile(join(ROOT, "examples/models/llama-tiny.dynamo.onnx"), { target: "toy", opt: 0, phase: "prefill", seq: 16 });
    const graph = buildGraph(plan);
    const groups = graph.nodes.filter((n) => n.level === "group");
    expect(groups.length).toBeGreaterThan(1);
    for (const g of groups) expect(new Set(g.children.map((c) => graph.nodes[c]!.section)).size).toBeLessThanOrEqual(MAX_RUN_SECTIONS);
  });

  it("kernels' shares of their sections add up to the predicted time", () => {
    for (const { name, plan } of plans) {
      const total = [...attributedSeconds(plan).values()].reduce((a, b) => a + b, 0);
      expect(total, name).toBeCloseTo(plan.prediction.seconds, 12);
      expect(buildGraph(plan).nodes[0]!.seconds).toBeCloseTo(plan.prediction.seconds, 12);
    }
  });

  it("embedded JSON cannot close its script tag and parses back to the plan", () => {
    const { plan, target } = plans[0]!;
    const evil = "</script><script>alert(1)</script><!--";
    const renamed: Plan = { ...plan, model: { ...plan.model, file: evil } };
    const html = renderPlanHtml(renamed, target);
    expect(html).not.toContain("<script>alert(1)");
    expect(JSON.parse(embedded(html, "plan-data"))).toEqual(JSON.parse(JSON.stringify(renamed)));
    expect(html).toContain("<title>tierflow plan: &#60;/script&#62;");
    expect(jsonForScript("a\u2028b</")).toBe('"a\\u2028b\\u003c/"');
    // Self-contained: no external script, style, font or image.
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/i);
    expect(html).toContain("default-src 'none'");
  });

  it("inlines dagre's browser bundle once, with its licence and no source map comment", () => {
    const { plan, target } = plans[0]!;
    const html = renderPlanHtml(plan, target);
    expect(html.split("var dagre=").length - 1).toBe(1);
    const libraries = /<script id="libraries">([^]*?)<\/script>/.exec(html)![1]!;
    expect(libraries).toContain("@license");
    expect(libraries).toContain("Copyright (c) 2012-2014 Chris Pettitt");
    expect(libraries).not.toMatch(/sourceMappingURL|LEGAL\.txt/);
    // Ahead of the page's script, which calls it.
    expect(html.indexOf('<script id="libraries">')).toBeLessThan(html.indexOf("function layeredLayout"));
    expect(html).not.toContain("<!--");
  });

  it("a node-level plan's view has every socket of the node, each with its place in the layout and its own figures", async () => {
    const { plan, target } = await compile(llama, { target: "sn40l-node", opt: 2, phase: "decode", seq: 16, parallel: "tp=2,pp=2" });
    const node = nodeView(plan)!;
    expect(node).toMatchObject({ layout: "tp=2,pp=2,dp=2", sockets: 8, group: 2, stages: 2, replicas: 2 });
    expect(node.perSocket.map((s) => s.socket)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const places = new Set<string>();
    for (const s of node.perSocket) {
      if (s.role !== "stage") throw new Error(`socket ${s.socket} is ${s.role}`);
      const stage = plan.parallel!.stages[s.stage]!;
      expect(stage.sockets[s.replica * 2 + s.member]).toBe(s.socket);
      expect(s.bytes).toEqual(stage.occupancy);
      expect([s.firstSection, s.lastSection]).toEqual([stage.firstSection, stage.lastSection]);
      // Split in two over a group of two: member m holds part m of each.
      expect(s.parts.length).toBeGreaterThan(0);
      for (const p of s.parts) expect([p.parts, p.part]).toEqual([2, s.member]);
      places.add(`${s.replica} ${s.stage} ${s.member}`);
    }
    expect(places.size).toBe(8);
    // Pipeline stages hold different layers: their sockets' figures differ.
    const [first, second] = plan.parallel!.stages;
    expect(first!.occupancy.hbm).not.toBe(second!.occupancy.hbm);
    expect((JSON.parse(embedded(renderPlanHtml(plan, target), "view-data")) as { parallel: { perSocket: unknown[] } }).parallel.perSocket).toHaveLength(8);
    expect(nodeView(plans[0]!.plan)).toBeNull();

    // Disaggregated: the other phase's group is named, and sockets no layout uses are idle.
    const split = (await compile(llama, { target: "sn40l-node", opt: 2, phase: "decode", seq: 16, disaggregate: "prefill=2,decode=6" })).plan;
    expect(nodeView(split)!.perSocket.map((s) => s.role)).toEqual(["prefill", "prefill", "stage", "stage", "stage", "stage", "stage", "stage"]);
    const partial = (await compile(llama, { target: "sn40l-node", opt: 2, phase: "decode", seq: 16, parallel: "tp=2,dp=3" })).plan;
    expect(nodeView(partial)!.perSocket.map((s) => s.role)).toEqual([...Array<string>(6).fill("stage"), "idle", "idle"]);
  });

  it("reads Chrome traces: complete events, begin/end pairs, names matched to sections and kernels", () => {
    const { plan } = plans[1]!;
    const trace = {
      traceEvents: [
        { name: "thread_name", ph: "M", pid: 1, tid: 2, args: { name: "device" } },
        { name: plan.sections[0]!.name, ph: "X", ts: 100, dur: 5, pid: 1, tid: 2 },
        { name: "launch", ph: "B", ts: 105, pid: 1, tid: 3 },
        { name: "launch", ph: "E", ts: 107, pid: 1, tid: 3 },
        { name: "k0", ph: "X", ts: 106, dur: 1, pid: 1, tid: 2, args: { section: plan.sections[0]!.name } },
        { name: "broken", ph: "X", ts: "soon" },
        42,
      ],
    };
    const spans = traceSpans(trace, plan);
    expect(spans.map((s) => [s.name, s.lane, s.start, s.seconds])).toEqual([
      [plan.sections[0]!.name, "device", 0, 5e-6], ["launch", "1:3", 5e-6, 2e-6], ["k0", "device", 6e-6, 1e-6],
    ]);
    expect(spans[0]!.section).toBe(0);
    expect(spans[2]!.kernel).toBe("k0");
    expect(traceSpans({ nothing: true }, plan)).toEqual([]);
  });

  it("the browser script type-checks against the DOM library and dagre's types (loosely: names, calls, properties)", () => {
    const files = [...SCRIPT_DECLARATIONS, ...SCRIPT_FILES].map((f) => join(ROOT, "compiler/viz/app", f));
    const r = spawnSync(join(ROOT, "node_modules/.bin/tsc"), ["--ignoreConfig", "--noEmit", "--allowJs", "--checkJs", "--strict", "false",
      "--lib", "ES2023,DOM,DOM.Iterable", "--target", "ES2022", "--types", "", "--skipLibCheck", ...files], { encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("tierflow viz writes the page; compile --viz writes plan.html beside plan.json", () => {
    const { plan } = plans[1]!;
    const planFile = join(dir, "plan.json"), traceFile = join(dir, "trace.json"), out = join(dir, "pages", "plan.html");
    writeFileSync(planFile, planToJson(plan));
    writeFileSync(traceFile, JSON.stringify([{ name: "s0", ph: "X", ts: 0, dur: 3, pid: 0, tid: 0 }]));
    const r = runCli(["viz", planFile, "-o", out, "--timeline", traceFile]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const view = JSON.parse(embedded(readFileSync(out, "utf8"), "view-data")) as { trace: unknown[] };
    expect(view.trace).toHaveLength(1);

    // A trace that says which plan it is of must be of this one; one that names nothing of the plan is refused.
    const other = plans[2]!.plan;
    writeFileSync(traceFile, JSON.stringify({ traceEvents: [{ name: "s0", ph: "X", ts: 0, dur: 3, pid: 0, tid: 0 }], otherData: { plan: planDigest(other), measured_on: "the CPU reference backend" } }));
    expect(runCli(["viz", planFile, "-o", out, "--timeline", traceFile]).stderr).toMatch(/trace\.json: the trace is of another plan \(its plan digest [0-9a-f]{12}\.\.\., this plan's [0-9a-f]{12}\.\.\.\)/);
    writeFileSync(traceFile, JSON.stringify([{ name: "GEMM", ph: "X", ts: 0, dur: 3, pid: 0, tid: 0 }]));
    expect(runCli(["viz", planFile, "-o", out, "--timeline", traceFile]).stderr).toMatch(/the trace names none of the plan's sections or kernels/);
    // The runtime's trace says it measured the CPU reference backend: the page says so, and draws no ratio to the chip's prediction.
    writeFileSync(traceFile, JSON.stringify({ traceEvents: [{ name: "s0", ph: "X", ts: 0, dur: 3, pid: 0, tid: 0 }], otherData: { plan: planDigest(plan), measured_on: "the CPU reference backend" } }));
    expect(runCli(["viz", planFile, "-o", out, "--timeline", traceFile]).code).toBe(0);
    expect((JSON.parse(embedded(readFileSync(out, "utf8"), "view-data")) as { measuredOn: unknown }).measuredOn).toBe("the CPU reference backend");

    writeFileSync(traceFile, "{ not json");
    const bad = runCli(["viz", planFile, "-o", out, "--timeline", traceFile]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/trace\.json: trace is not JSON/);

    const compiled = join(dir, "compiled");
    const c = runCli(["compile", llama, "--target", "toy", "-O0", "--seq", "8", "-q", "--viz", "-o", compiled]);
    expect(c.code).toBe(0);
    expect(existsSync(join(compiled, "plan.json")) && existsSync(join(compiled, "plan.html"))).toBe(true);
  });
});
