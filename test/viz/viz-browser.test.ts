// The plan visualiser in a real browser (Debian's Chromium, driven by
// playwright-core): the page loads offline with no errors, draws the chip's
// units and the plan's tier numbers, opens a layer onto its kernels, follows the
// selected section, and stays quick on a Llama-2-7B plan. Pages and
// screenshots land in test/output/viz/ for a look by eye.

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { BrowserContext, Page } from "playwright-core";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../compiler/compile.js";
import { renderPlanHtml } from "../../compiler/viz/render.js";
import type { RenderOptions } from "../../compiler/viz/render.js";
import type { Plan } from "../../ir/placement/plan.js";
import { sramBytes } from "../../targets/target.js";
import type { Target } from "../../targets/target.js";
import { LLAMA_PRESETS, writeLlama } from "../../examples/generate/llama-onnx.js";
import { ROOT } from "../support/cli.js";

const CHROMIUM = "/usr/bin/chromium";
const OUTPUT = join(ROOT, "test", "output", "viz");
const llama = join(ROOT, "examples/models/llama-tiny.torchscript.onnx");

/** Chromium from Debian, installed when missing and we may; otherwise why the tests skip. */
function chromiumMissing(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  if (process.getuid?.() !== 0) return `${CHROMIUM} is missing and installing it needs root (apt-get install -y chromium)`;
  const install = () => spawnSync("apt-get", ["install", "-y", "-qq", "chromium"], { stdio: "ignore", timeout: 600_000 }).status === 0;
  if (!install()) {
    spawnSync("apt-get", ["update", "-qq"], { stdio: "ignore", timeout: 300_000 });
    install();
  }
  return existsSync(CHROMIUM) ? undefined : "apt-get could not install chromium";
}

const missing = chromiumMissing();
if (missing) console.warn(`viz browser tests skipped: ${missing}`);

let context: BrowserContext;
let profile: string;

/** Render a plan to test/output/viz/NAME.html and open it, collecting errors and any network request. */
async function openPlan(name: string, plan: Plan, target: Target, options: RenderOptions = {}) {
  const file = join(OUTPUT, `${name}.html`);
  writeFileSync(file, renderPlanHtml(plan, target, options));
  const page = await context.newPage();
  const errors: string[] = [], requests: string[] = [];
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("request", (r) => { if (!r.url().startsWith("file:") && !r.url().startsWith("data:")) requests.push(r.url()); });
  const started = Date.now();
  await page.goto(pathToFileURL(file).href);
  await page.waitForSelector("body[data-ready=true]", { timeout: 30_000 });
  return { page, errors, requests, loadMs: Date.now() - started };
}

const attr = (page: Page, selector: string, name: string) => page.getAttribute(selector, name).then((v) => v ?? "");

/**
 * Pairs of graph boxes that overlap, among the children of each open node (a
 * node's children lie inside it, so only siblings are compared), and how many
 * boxes were compared.
 */
async function graphOverlaps(page: Page): Promise<{ boxes: number; overlaps: string[] }> {
  return page.evaluate(`(() => {
    const overlaps = [];
    let boxes = 0;
    for (const parent of document.querySelectorAll("#graph g.node")) {
      const children = [...parent.querySelectorAll(":scope > g > g.node")].map((g) => ({ label: g.dataset.label, r: g.querySelector("rect").getBoundingClientRect() }));
      boxes += children.length;
      for (let i = 0; i < children.length; i++) for (let j = i + 1; j < children.length; j++) {
        const a = children[i].r, b = children[j].r;
        if (a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5) overlaps.push(children[i].label + " / " + children[j].label);
      }
    }
    return { boxes, overlaps };
  })()`);
}

describe.skipIf(missing !== undefined)("plan visualiser in Chromium", () => {
  beforeAll(async () => {
    mkdirSync(OUTPUT, { recursive: true });
    profile = mkdtempSync(join(tmpdir(), "tierflow-chromium-"));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM, headless: true, viewport: { width: 1400, height: 1000 },
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it("draws a toy plan: units, tier numbers, layers that open, sections that recolour the chip", async () => {
    const { plan, target } = await compile(llama, { target: "toy", opt: 2, phase: "prefill", seq: 16 });
    const { page, errors, requests } = await openPlan("toy", plan, target);

    expect(await attr(page, "#floorplan", "data-cells")).toBe(String(target.compute.units + target.sram.units));
    expect(await attr(page, "#floorplan", "data-compute-units")).toBe(String(target.compute.units));
    expect(await attr(page, "#floorplan", "data-memory-units")).toBe(String(target.sram.units));
    const capacity = { sram: sramBytes(target), hbm: target.hbm.bytes, ddr: target.ddr.bytes };
    for (const tier of ["sram", "hbm", "ddr"] as const) {
      expect(await attr(page, `#tier-${tier}`, "data-bytes"), tier).toBe(String(plan.occupancy[tier]));
      expect(await attr(page, `#tier-${tier}`, "data-capacity"), tier).toBe(String(capacity[tier]));
    }
    expect(await page.textContent("[data-stat=latency] .v")).toMatch(/µs|ms/);

    // Opening a layer lays out its kernels (its section parts open with it).
    const layer = 'g.node[data-level="group"][data-label="layers.0"]';
    expect(await page.locator(`${layer} g.node[data-level="kernel"]`).count()).toBe(0);
    await page.click(layer);
    const kernels = await attr(page, layer, "data-kernels");
    expect(await page.locator(`${layer} g.node[data-level="kernel"]`).count()).toBe(Number(kernels));
    expect(await page.locator(`${layer} text.edge-label`).count()).toBeGreaterThan(0);
    await page.click(`${layer} g.node[data-level="kernel"] >> nth=0`);
    expect(await page.textContent("#graph-info h3")).toMatch(/^k\d+/);

    // The next section colours the chip differently.
    await page.evaluate("window.scrollTo(0, 0)");
    const before = { colouring: await attr(page, "#floorplan", "data-colouring"), pixels: await page.locator("#floorplan").screenshot() };
    const current = Number(await attr(page, "#floorplan", "data-section"));
    await page.click("#next");
    expect(await attr(page, "#floorplan", "data-section")).toBe(String(current + 1));
    expect(await attr(page, "#floorplan", "data-colouring")).not.toBe(before.colouring);
    expect((await page.locator("#floorplan").screenshot()).equals(before.pixels)).toBe(false);
    expect(await attr(page, "#section-detail svg", "data-section")).toBe(String(current + 1));

    await page.evaluate("window.scrollTo(0, 0)");
    await page.screenshot({ path: join(OUTPUT, "toy.png"), fullPage: true });
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
    await page.close();
  });

  it("lays out a real model's graph with dagre: no two boxes overlap, at the model level or in every group opened", async () => {
    const { plan, target } = await compile(llama, { target: "toy", opt: 0, phase: "prefill", seq: 16 });
    const { page, errors } = await openPlan("toy-O0-graph", plan, target);
    expect(await page.evaluate("typeof dagre.layout")).toBe("function");
    const closed = await graphOverlaps(page);
    expect(closed.boxes).toBeGreaterThan(2);
    expect(closed.overlaps).toEqual([]);
    // Open every group: the layers' kernels and the sections outside them, each laid out beside the others.
    const groups = await page.locator('g.node[data-level="group"]').evaluateAll((gs) => gs.map((g) => g.getAttribute("data-node-id")));
    expect(groups.length).toBeGreaterThan(2);
    for (const id of groups) await page.click(`g.node[data-node-id="${id}"] > rect`);
    expect(await page.locator('g.node[data-level="group"][data-expanded="true"]').count()).toBe(groups.length);
    const open = await graphOverlaps(page);
    expect(open.boxes).toBeGreaterThan(plan.dataflow.kernels.length / 2);
    expect(open.overlaps).toEqual([]);
    expect(await page.locator("#graph path.edge").count()).toBeGreaterThan(groups.length);
    await page.screenshot({ path: join(OUTPUT, "toy-O0-graph.png"), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });

  it("draws every socket of a node-level plan: its place in the layout, its sections and its own bytes", async () => {
    const { plan, target } = await compile(llama, { target: "sn40l-node", opt: 2, phase: "decode", seq: 16, parallel: "tp=2,pp=2" });
    const { page, errors } = await openPlan("sn40l-node-tp2-pp2", plan, target);
    expect(await page.textContent("[data-stat=target] .v")).toContain("tp=2,pp=2,dp=2");
    expect(await page.textContent("#node-panel .panel-head")).toContain("tp=2,pp=2,dp=2 over 8 sockets");
    const rows = page.locator("#node-sockets tbody tr");
    expect(await rows.count()).toBe(8);
    for (let socket = 0; socket < 8; socket++) {
      const row = page.locator(`#node-sockets tr[data-socket="${socket}"]`);
      expect(await row.locator("td").first().textContent()).toBe(`socket ${socket}`);
      const stage = plan.parallel!.stages.findIndex((s) => s.sockets.includes(socket));
      expect(await row.getAttribute("data-stage"), `socket ${socket}`).toBe(String(stage));
      for (const tier of ["sram", "hbm", "ddr"] as const) {
        expect(await row.locator(`td[data-tier=${tier}]`).getAttribute("data-bytes"), `socket ${socket} ${tier}`).toBe(String(plan.parallel!.stages[stage]!.occupancy[tier]));
      }
    }
    // The selected section's sockets are marked; a row of the other stage selects that stage's first section.
    const running = async () => (await page.locator("#node-sockets tr.running").evaluateAll((trs) => trs.map((tr) => Number(tr.getAttribute("data-socket")))));
    const [first, second] = plan.parallel!.stages;
    expect(await running()).toEqual([...first!.sockets].sort((a, b) => a - b));
    await page.click(`#node-sockets tr[data-socket="${second!.sockets[0]}"]`);
    expect(await attr(page, "#floorplan", "data-section")).toBe(String(second!.firstSection));
    expect(await running()).toEqual([...second!.sockets].sort((a, b) => a - b));
    expect(await page.textContent("#chip-sockets")).toMatch(/runs on each of sockets .* \(stage 1\)/);
    await page.evaluate("window.scrollTo(0, 0)");
    await page.screenshot({ path: join(OUTPUT, "sn40l-node-tp2-pp2.png") });
    expect(errors).toEqual([]);
    await page.close();

    // Disaggregated prefill/decode: the prefill group's sockets are named too.
    const split = await compile(llama, { target: "sn40l-node", opt: 2, phase: "decode", seq: 16, disaggregate: "prefill=2,decode=6" });
    const other = await openPlan("sn40l-node-disaggregated", split.plan, split.target);
    expect(await other.page.locator("#node-sockets tbody tr").count()).toBe(8);
    expect(await other.page.textContent('#node-sockets tr[data-socket="0"]')).toMatch(/the prefill group \(tp=\d,pp=\d,dp=\d\)/);
    expect(other.errors).toEqual([]);
    await other.page.close();
  });

  it("shows a runtime trace's measured times beside the prediction", async () => {
    const { plan, target } = await compile(llama, { target: "toy", opt: 2, phase: "prefill", seq: 16 });
    let ts = 0;
    const traceEvents = plan.sections.map((s) => ({ name: s.name, ph: "X", ts: (ts += 10), dur: s.cost.seconds * 1.3e6, pid: 1, tid: 1 }));
    const { page, errors } = await openPlan("toy-trace", plan, target, { trace: { traceEvents } });
    expect(await page.textContent("[data-stat=measured] .d")).toMatch(/1\.30× predicted/);
    expect(await page.textContent("#section-detail")).toContain("measured");
    expect(errors).toEqual([]);
    await page.close();
    // The runtime's own trace says it ran on the CPU reference backend: labelled so, with no ratio to the chip.
    const cpu = await openPlan("toy-cpu-trace", plan, target, { trace: { traceEvents, otherData: { measured_on: "the CPU reference backend" } } });
    expect(await cpu.page.textContent("[data-stat=measured] .k")).toBe("Measured on the CPU reference backend");
    expect(await cpu.page.textContent("[data-stat=measured] .d")).toMatch(/not toy: no ratio to the prediction/);
    // The page opens on the first section that works on the chip, not on host shape arithmetic.
    const opening = plan.sections.findIndex((s) => s.cost.seconds > 0 && s.kernels.some((k) => k.computeUnits > 0));
    expect(opening).toBeGreaterThanOrEqual(0);
    expect(await attr(cpu.page, "#floorplan", "data-section")).toBe(String(opening));
    expect(cpu.errors).toEqual([]);
    await cpu.page.close();
  });

  it("lists the compile's passes and stages in the pipeline panel, with the IR before and after each when recorded", async () => {
    const { plan, target, records } = await compile(llama, { target: "toy", opt: 2, phase: "prefill", seq: 16, recordIR: true });
    const { page, errors } = await openPlan("toy-passes", plan, target, { passes: records });
    expect(await page.locator("#passes-panel li.pass").count()).toBe(records.length);
    expect(await page.getAttribute("#passes-panel li.pass >> nth=0", "data-pass")).toBe(records[0]!.pass);
    const lowering = page.locator("#passes-panel li.pass[data-pass=lower-to-dataflow]");
    await lowering.locator("summary").click();
    expect(await lowering.locator("pre.after").textContent()).toBe(records.find((r) => r.pass === "lower-to-dataflow")!.after);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("opens a Llama-2-7B plan within a few seconds and expands a layer", async () => {
    const model = join(mkdtempSync(join(tmpdir(), "tierflow-viz-7b-")), "model.onnx");
    writeLlama(model, LLAMA_PRESETS["llama-2-7b"]!);
    const { plan, target } = await compile(model, { target: "sn40l", opt: 0, phase: "decode", seq: 128 });
    expect(plan.dataflow.kernels.length).toBeGreaterThan(1500);
    const { page, errors, loadMs } = await openPlan("llama-2-7b", plan, target);
    expect(loadMs).toBeLessThan(5000);
    expect(await attr(page, "#floorplan", "data-cells")).toBe(String(target.compute.units + target.sram.units));
    expect(await attr(page, "#tier-hbm", "data-bytes")).toBe(String(plan.occupancy.hbm));

    const layer = 'g.node[data-level="group"][data-label="layers.3"]';
    const started = Date.now();
    await page.click(layer);
    await page.waitForSelector(`${layer}[data-expanded="true"] g.node[data-level="kernel"]`);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await page.locator(`${layer} g.node[data-level="kernel"]`).count()).toBe(Number(await attr(page, layer, "data-kernels")));
    // Only the open layer is laid out: the others stay single boxes.
    expect(await page.locator('g.node[data-level="kernel"]').count()).toBe(Number(await attr(page, layer, "data-kernels")));
    expect((await graphOverlaps(page)).overlaps).toEqual([]);
    await page.screenshot({ path: join(OUTPUT, "llama-2-7b.png") });
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);
});
