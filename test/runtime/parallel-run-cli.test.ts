// `tierflow run plan.json` on a node-level plan: the outputs equal the model's
// own run, the trace has one process per simulated socket with its tier,
// section and link tracks, and a corrupted parallel plan is refused with one
// line and exit status 1.

import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/compile.js";
import { planToJson } from "../../compiler/plan-json.js";
import type { Plan } from "../../ir/placement/plan.js";
import { readTensorFile } from "../../compiler/tensor-files.js";
import type { ChromeTrace } from "../../targets/runtime/trace.js";
import { expectDiagnostic, runCli } from "../support/cli.js";
import type { Writable } from "./support.js";
import { MODELS_DIR, maxAbsError } from "./support.js";

const MODEL = join(MODELS_DIR, "llama-tiny.dynamo.onnx");

describe("tierflow run on a parallel plan", () => {
  it("runs tp=2,pp=2 on four simulated sockets, with a trace track set per socket", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tierflow-parallel-run-"));
    const { plan } = await compile(MODEL, { target: "sn40l-node", opt: 2, batch: 2, seq: 5, parallel: "tp=2,pp=2,dp=1" });
    const planPath = join(dir, "plan.json"), ids = join(dir, "ids.json");
    writeFileSync(planPath, planToJson(plan));
    writeFileSync(ids, "[[3, 141, 59, 265, 358], [7, 1, 400, 22, 9]]");
    const tracePath = join(dir, "trace.json");
    const r = runCli(["run", planPath, "--input", `input_ids=${ids}`, "--model", MODEL, "--output", join(dir, "out"), "--timeline", tracePath]);
    expect(r.code, r.stderr).toBe(0);
    const direct = runCli(["run", MODEL, "--input", `input_ids=${ids}`, "--output", join(dir, "direct")]);
    expect(direct.code, direct.stderr).toBe(0);
    const a = readTensorFile(join(dir, "out", "logits.npy")), b = readTensorFile(join(dir, "direct", "logits.npy"));
    expect(a.dims).toEqual([2, 5, 512]);
    expect(maxAbsError({ logits: b }, { logits: a })).toBeLessThanOrEqual(1e-4);

    const events = (JSON.parse(readFileSync(tracePath, "utf8")) as ChromeTrace).traceEvents;
    const processes = new Map(events.filter((e) => e.name === "process_name").map((e) => [e.pid, (e.args as { name: string }).name]));
    const sockets = plan.parallel!.stages.flatMap((s) => s.sockets);
    for (const socket of sockets) expect([...processes.values()]).toContain(`socket ${socket}`);
    const pidOf = (socket: number) => [...processes].find(([, name]) => name === `socket ${socket}`)![0];
    const spans = (socket: number, cat: string) => events.filter((e) => e.ph === "X" && e.pid === pidOf(socket) && e.cat === cat);
    // Stage 0's sockets all-reduce and send; stage 1's receive; each runs only its own stage's sections.
    const first = plan.parallel!.stages[0]!, second = plan.parallel!.stages[1]!;
    expect(spans(first.sockets[0]!, "link").some((e) => e.name.startsWith("all-reduce"))).toBe(true);
    expect(spans(second.sockets[1]!, "link").some((e) => e.name.startsWith("recv "))).toBe(true);
    const sections = (socket: number) => new Set(spans(socket, "section").map((e) => (e.args as { section: string }).section));
    expect(sections(first.sockets[0]!)).toEqual(new Set(plan.sections.slice(first.firstSection, first.lastSection + 1).map((s) => s.name)));
    expect(sections(second.sockets[0]!)).toEqual(new Set(plan.sections.slice(second.firstSection, second.lastSection + 1).map((s) => s.name)));
  });

  it("refuses a corrupted parallel plan with one line", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tierflow-parallel-run-"));
    const { plan } = await compile(MODEL, { target: "sn40l-node", opt: 2, batch: 1, seq: 5, parallel: "tp=2,dp=1" });
    const broken = structuredClone(plan) as Writable<Plan>;
    broken.parallel!.collectiveKernels[0]!.sockets = 4;
    const planPath = join(dir, "plan.json"), ids = join(dir, "ids.json");
    writeFileSync(planPath, planToJson(broken as Plan));
    writeFileSync(ids, "[[3, 141, 59, 265, 358]]");
    expectDiagnostic(["run", planPath, "--input", `input_ids=${ids}`, "--model", MODEL, "--output", join(dir, "out")], /collective 'c0' spans 4 sockets; the group has 2/);
  });
});
