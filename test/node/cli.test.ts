// The node-level flags of `tierflow compile` and `tierflow simulate-serving`
// as a user runs them (and --disaggregate through the library, which the flag
// hands its text to): good runs write plans and tables, bad values get one
// clear line and exit status 1.

import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/compile.js";
import { readPlan } from "../../compiler/plan-json.js";
import { formatReport } from "../../compiler/report.js";
import { loadTarget } from "../../targets/target.js";
import { runCli, ROOT } from "../support/cli.js";

const dir = mkdtempSync(join(tmpdir(), "tierflow-node-cli-"));
const llama = join(ROOT, "examples/models/llama-tiny.torchscript.onnx");
const compileArgs = (...extra: string[]) => ["compile", llama, "--target", "sn40l-node", "--phase", "decode", "--seq", "16", "-q", ...extra];

describe("tierflow compile --parallel / --disaggregate", () => {
  it("--parallel auto writes the chosen plan and prints the table it chose from", () => {
    const out = join(dir, "auto");
    const r = runCli(compileArgs("--parallel", "auto", "-o", out));
    expect(r.code, r.stderr).toBe(0);
    const report = readFileSync(join(out, "report.txt"), "utf8");
    expect(report).toMatch(/layouts tried \(--parallel auto; \* chosen/);
    expect(report).toMatch(/^ {2}\* {2}tp=\d,pp=\d,dp=\d/m);
    expect(report).toMatch(/tp=4,pp=2,dp=1/);
    expect(report).toMatch(/^node: sn40l-node, 8 sockets; layout/m);
    expect(readPlan(join(out, "plan.json")).plan.parallel).toBeDefined();
    expect(readFileSync(join(out, "placement.tfp"), "utf8")).toMatch(/^ {2}parallel \{tp = /m);
    const verify = runCli(["verify", join(out, "plan.json")]);
    expect(verify.code, verify.stderr).toBe(0);
  });

  it("--disaggregate records the other group and the KV hand-over", async () => {
    const { plan } = await compile(llama, { target: "sn40l-node", phase: "decode", seq: 16, disaggregate: "prefill=2,decode=6" });
    const d = plan.parallel!.disaggregation!;
    expect(d.prefillSockets).toEqual([0, 1]);
    expect(d.decodeSockets).toEqual([2, 3, 4, 5, 6, 7]);
    expect(d.kvBytesPerRequest).toBe(2 * 2 * 2 * 16 * 4 * 16); // K and V, 2 layers, 2 KV heads of 16, f32, 16 prompt tokens
    const link = loadTarget("sn40l-node").node!.link;
    const links = Math.min(Math.max(...d.prefillLayout.match(/tp=(\d+)/)!.slice(1).map(Number)), Math.max(...d.decodeLayout.match(/tp=(\d+)/)!.slice(1).map(Number)));
    expect(d.kvTransferSeconds).toBeCloseTo(d.kvBytesPerRequest / links / link.bandwidth + link.latencySeconds, 15);
    for (const s of plan.parallel!.stages) for (const socket of s.sockets) expect(d.decodeSockets).toContain(socket);
    expect(formatReport(plan, loadTarget("sn40l-node"))).toMatch(/disaggregated: prefill on sockets 0-1 .* decode on sockets 2-7/);
  });

  it("bad values get one clear line", () => {
    const bad = (args: string[], message: RegExp) => {
      const r = runCli([...args, "-o", join(dir, "bad")]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
    };
    bad(compileArgs("--parallel", "tp=3"), /--parallel tp=3,pp=1,dp=2: sn40l-node has 8 sockets, which groups of 3 do not divide \(use 2, 4, 8\)/);
    bad(["compile", llama, "--target", "sn40l", "--parallel", "tp=2", "-q"], /--parallel needs a node target .* sn40l is one socket/);
  });
});

describe("tierflow simulate-serving", () => {
  it("prints both goodputs for a seeded run", () => {
    const r = runCli(["simulate-serving", llama, "--target", "sn40l-node", "--disaggregate", "prefill=4,decode=4",
      "--requests", "40", "--rates", "2000,20000", "--prompt-tokens", "64", "--output-tokens", "16", "--ttft", "0.01", "--tpot", "0.001", "-q"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^disaggregated: prefill on 4 sockets as /m);
    expect(r.stdout).toMatch(/^colocated: \d+ replicas? of \d+ sockets/m);
    expect(r.stdout).toMatch(/2000\.00 \|/);
    expect(r.stdout).toMatch(/highest rate with 90% of requests meeting both targets \(DistServe's goodput\): colocated .*, disaggregated /);
  });

  it("--json prints the same runs as one document following its schema", async () => {
    const { validateJson } = await import("../../ir/json-schema.js");
    const r = runCli(["simulate-serving", llama, "--target", "sn40l-node", "--disaggregate", "prefill=4,decode=4",
      "--requests", "40", "--rates", "2000,20000", "--prompt-tokens", "64", "--output-tokens", "16", "--ttft", "0.01", "--tpot", "0.001", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { rates: { rate: number; colocated: { ttftP50: number; ttftP99: number } }[] };
    const schema = JSON.parse(readFileSync(join(ROOT, "compiler", "cli", "schemas", "simulate-serving.schema.json"), "utf8"));
    expect(validateJson(doc, schema)).toBeUndefined();
    expect(doc.rates.map((x) => x.rate)).toEqual([2000, 20000]);
    for (const row of doc.rates) expect(row.colocated.ttftP99).toBeGreaterThanOrEqual(row.colocated.ttftP50);
  });
});
