// A CoE's overview page ties its plan pages together: every link leads to a
// page compile --viz wrote, every expert is listed with its home, and names
// from the manifest are escaped.

import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compileCoe } from "../../compiler/coe/compile-coe.js";
import { readManifest } from "../../compiler/coe/manifest.js";
import { writeCoe } from "../../compiler/coe/write.js";
import { renderCoePage } from "../../compiler/viz/coe-page.js";
import { ROOT } from "../support/cli.js";

describe("the CoE overview page", () => {
  it("links every plan page, lists every expert's home, and escapes names", async () => {
    const r = await compileCoe(readManifest(join(ROOT, "examples", "coe", "coe.json")));
    const out = mkdtempSync(join(tmpdir(), "tierflow-coe-page-"));
    writeCoe(out, r, true);
    const html = readFileSync(join(out, "index.html"), "utf8");
    const links = [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1]!);
    expect(links.length).toBe(r.plans.size);
    for (const link of links) expect(existsSync(join(out, link)), link).toBe(true);
    for (const e of r.plan.experts) expect(html).toContain(`<td>${e.name}</td>`);
    expect((html.match(/HBM \(pinned\)/g) ?? []).length).toBe(r.plan.experts.filter((e) => e.home === "hbm").length);
    const hostile = { ...r.plan, experts: [{ ...r.plan.experts[0]!, name: "<script>x</script>" }] };
    expect(renderCoePage(hostile, [])).not.toContain("<script>");
  });
});

describe("a node-level plan's page", () => {
  it("names its layout and every socket", async () => {
    const { compile } = await import("../../compiler/compile.js");
    const { buildViewModel } = await import("../../compiler/viz/view-model.js");
    const r = await compile(join(ROOT, "examples/models/llama-tiny.dynamo.onnx"), { target: "sn40l-node", opt: 2, seq: 16, parallel: "tp=2,pp=2" });
    const parallel = buildViewModel(r.plan, r.target).parallel!;
    expect(parallel).toMatchObject({ layout: "tp=2,pp=2,dp=2", sockets: 8 });
    expect(parallel.perSocket.map((s) => s.socket)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const single = await compile(join(ROOT, "examples/models/llama-tiny.dynamo.onnx"), { target: "sn40l", opt: 2, seq: 16 });
    expect(buildViewModel(single.plan, single.target).parallel).toBeNull();
  });
});
