// `tierflow simulate OUT/ --trace FILE` on each trace format, the shaping
// flags, and `--viz`: the serving page (latency, occupancy and switches over
// time, traffic per expert) linked from the CoE's overview.

import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ROOT, expectDiagnostic, runCli } from "../support/cli.js";

const DATA = join(ROOT, "test", "data", "traces");
const dir = mkdtempSync(join(tmpdir(), "tierflow-sim-trace-"));
const coe = join(dir, "coe");

describe("tierflow simulate --trace", () => {
  beforeAll(() => {
    const c = runCli(["compile", join(ROOT, "examples/coe/coe.json"), "-o", coe, "--viz", "-q"]);
    expect(c.code, c.stderr).toBe(0);
  }, 60_000);

  it("reads every format, says what it read, and draws the run", () => {
    for (const [file, format] of [["azure-conv-head.csv", "azure"], ["vidur-splitwise-conv-head.csv", "vidur"], ["mooncake-conversation-head.jsonl", "mooncake"]] as const) {
      const r = runCli(["simulate", coe, "--trace", join(DATA, file), "--policy", "lru"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^trace ${file.replace(/\./g, "\\.")} \\(${format}\\): \\d+ requests; .*mapped onto 4 experts by a seeded Zipf`, "m"));
    }
    const v = runCli(["simulate", coe, "--trace", join(DATA, "azure-conv-head.csv"), "--window", "0:12", "--rate-scale", "2", "--map-experts", "uniform", "--viz"]);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toMatch(/window 0:12 s: 18 of 40 requests; arrival rate scaled by 2; requests mapped onto 4 experts by a seeded uniform draw \(seed 1\)/);
    const page = readFileSync(join(coe, "serving.html"), "utf8");
    expect(page.match(/<svg /g)).toHaveLength(3);
    expect(page).toMatch(/latency by arrival time/);
    expect(page).toMatch(/Experts by traffic/);
    // Every request is counted once in the per-expert table.
    const counts = [...page.matchAll(/<tr><td>[^<]+<\/td><td>[A-Z]*<\/td><td class="n">(\d+)<\/td>/g)].map((m) => Number(m[1]));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(18);
    expect(readFileSync(join(coe, "index.html"), "utf8")).toMatch(/<a href="serving\.html">/);
  }, 60_000);

  it("maps a trace's model names onto the experts, and refuses names it does not serve", () => {
    const names = join(dir, "named.csv");
    writeFileSync(names, "arrived_at,num_prefill_tokens,num_decode_tokens,model\n0,16,4,math\n0.5,16,4,code\n");
    const r = runCli(["simulate", coe, "--trace", names, "--policy", "lru"]);
    expect(r.code, r.stderr).toBe(0);
    expectDiagnostic(["simulate", coe, "--trace", join(DATA, "burstgpt-columns.csv")], /the trace names model 'ChatGPT', which is not one of the 4 experts served; map requests with --map-experts zipf or uniform/);
    const b = runCli(["simulate", coe, "--trace", join(DATA, "burstgpt-columns.csv"), "--map-experts", "zipf:1.5", "--policy", "lru"]);
    expect(b.stdout).toMatch(/skipped 2 requests with 0 tokens \(failed in the trace\); requests mapped onto 4 experts by a seeded Zipf \(s = 1\.5\) draw \(seed 1\), in place of the trace's model names/);
  }, 60_000);

  it("refuses shaping flags without a trace and a header it cannot read", () => {
    expectDiagnostic(["simulate", coe, "--window", "0:10"], /--window shapes a trace file: give --trace FILE/);
    expectDiagnostic(["simulate", coe, "--viz", "--sweep-experts", "1..10"], /--viz draws one simulation/);
    const bad = join(dir, "bad.csv");
    writeFileSync(bad, "TIMESTAMP,ContextTokens\n2023-11-16 18:15:46.68,374\n");
    expectDiagnostic(["simulate", coe, "--trace", bad], /bad\.csv:1: an Azure LLM trace needs a column 'GeneratedTokens'/);
  }, 60_000);

  it("simulate-serving replays a trace scaled to each rate, and refuses the synthetic stream's flags beside it", () => {
    const model = join(ROOT, "examples/models/llama-tiny.torchscript.onnx");
    const base = ["simulate-serving", model, "--target", "sn40l-node", "--disaggregate", "prefill=4,decode=4"];
    const r = runCli([...base, "--trace", join(DATA, "vidur-splitwise-conv-head.csv"), "--rates", "5,5000", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { trace: string; workload: { requests: number; promptTokens: number; outputTokens: number }; rates: { rate: number }[] };
    // The sample's 40 requests: mean prompt 699.6 and output 110.75 tokens, rounded (summed from the file).
    expect(out.workload).toMatchObject({ requests: 40, promptTokens: 700, outputTokens: 111 });
    expect(out.rates.map((x) => x.rate)).toEqual([5, 5000]);
    const text = runCli([...base, "--trace", join(DATA, "burstgpt-columns.csv"), "--rates", "1"]);
    expect(text.stdout).toMatch(/^trace burstgpt-columns\.csv \(burstgpt\): 4 requests at 0\.0222 per second; skipped 2 requests with 0 tokens \(failed in the trace\); its model names are not used: one model is served$/m);
    expectDiagnostic([...base, "--trace", join(DATA, "azure-conv-head.csv"), "--requests", "10"], /--requests sets the synthetic stream; --trace gives the requests/);
    expectDiagnostic([...base, "--window", "0:5"], /--window shapes a trace file: give --trace FILE/);
  }, 120_000);

  it("serves over several nodes with a keep-alive, reports cold starts and the share within targets, and finds the nodes needed", () => {
    const trace = join(DATA, "azure-conv-head.csv");
    const r = runCli(["simulate", coe, "--trace", trace, "--policy", "lru", "--nodes", "2", "--keep-alive", "5", "--ttft", "1", "--tpot", "0.05"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ {2}\d+ cold starts \(requests that waited for their expert's copy\), [\d.]+ s copying experts in on 2 nodes; [\d.]+% of requests within the latency targets$/m);
    const f = runCli(["simulate", coe, "--trace", trace, "--policy", "lru", "--ttft", "1", "--tpot", "0.05", "--find-nodes", "0.5"]);
    expect(f.code, f.stderr).toBe(0);
    expect(f.stdout).toMatch(/^nodes needed for 50% of requests within TTFT 1 s and TPOT 0\.05 s: \d+ \(\d+ sockets of /m);
    expectDiagnostic(["simulate", coe, "--ttft", "1"], /--ttft and --tpot set the latency targets together: give both/);
    expectDiagnostic(["simulate", coe, "--find-nodes"], /--find-nodes searches for the nodes meeting the latency targets: give --ttft and --tpot/);
    expectDiagnostic(["simulate", coe, "--ttft", "1", "--tpot", "1", "--find-nodes", "--nodes", "2"], /--find-nodes chooses the number of nodes: leave out --nodes/);
    expectDiagnostic(["simulate", coe, "--ttft", "1", "--tpot", "1", "--find-nodes", "1.5"], /--find-nodes 1\.5: give the fraction of requests to meet, in \(0, 1\]/);
    expectDiagnostic(["simulate", coe, "--nodes", "2000"], /--nodes 2000: at most 1024/);
    expectDiagnostic(["simulate", coe, "--nodes", "2", "--sweep-experts", "1..10"], /--sweep-experts re-plans one node/);
  }, 120_000);

  it("serves a CoE disaggregated over nodes, and refuses groups it cannot make", () => {
    const r = runCli(["simulate", coe, "--trace", join(DATA, "azure-conv-head.csv"), "--policy", "lru", "--disaggregate", "prefill=1,decode=2", "--kv-bandwidth", "50"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/switches for 40 requests on 1 prefill \+ 2 decode nodes$/m);
    expectDiagnostic(["simulate", coe, "--disaggregate", "prefill=0,decode=2"], /--disaggregate 'prefill=0,decode=2': expected prefill=P,decode=D, nodes of each group/);
    expectDiagnostic(["simulate", coe, "--disaggregate", "prefill=1,decode=1", "--nodes", "3"], /--disaggregate gives the nodes of each group: leave out --nodes/);
    expectDiagnostic(["simulate", coe, "--kv-bandwidth", "50"], /--kv-bandwidth prices the KV hand-over of --disaggregate/);
  }, 120_000);
});
