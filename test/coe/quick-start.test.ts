// The README's quick start, run with the built command as a new user would:
// the 150-expert Llama-2-7B CoE compiles for one SN40L node, fewer experts fit
// in HBM than there are, and simulate's policies pay different numbers of
// switches, ending on the policy auto picks. The example files are what
// examples/generate/coe-7b.ts writes.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { writeCoe7b } from "../../examples/generate/coe-7b.js";
import { ROOT } from "../support/cli.js";

const cli = (args: string[], cwd: string) => spawnSync(process.execPath, [join(ROOT, "bin", "tierflow.js"), ...args], { cwd, encoding: "utf8" });

describe("the quick start", () => {
  it("examples/coe/coe-7b.json and its graph are what the generator writes", () => {
    const dir = mkdtempSync(join(tmpdir(), "tierflow-coe-7b-"));
    writeCoe7b(dir);
    for (const file of ["coe-7b.json", "llama-2-7b/model.onnx"]) {
      expect(readFileSync(join(dir, file)).equals(readFileSync(join(ROOT, "examples", "coe", file))), file).toBe(true);
    }
  });

  it("compiles the 7B CoE and simulates serving it: switches that cost, policies that differ", () => {
    const dir = mkdtempSync(join(tmpdir(), "tierflow-quick-start-"));
    const compiled = cli(["compile", join(ROOT, "examples", "coe", "coe-7b.json"), "-o", "out/coe-7b"], dir);
    expect(compiled.status, compiled.stderr).toBe(0);
    expect(compiled.stdout).toMatch(/^CoE on one sn40l-node node \(8 sockets\): router \+ 150 experts over 1 compiled graph/);
    const simulated = cli(["simulate", "out/coe-7b"], dir);
    expect(simulated.status, simulated.stderr).toBe(0);
    const fit = [...simulated.stdout.matchAll(/(\d+) experts fit in HBM/g)].map((m) => Number(m[1]));
    expect(fit.length).toBeGreaterThan(0);
    expect(fit.every((n) => n > 1 && n < 150)).toBe(true);
    const switches = [...simulated.stdout.matchAll(/ (\d+) switches,/g)].map((m) => Number(m[1]));
    expect(new Set(switches).size).toBeGreaterThan(1);
    expect(Math.min(...switches)).toBeGreaterThan(0);
    const lines = simulated.stdout.trim().split("\n");
    // auto's choice is announced just before the chosen policy's block (its header line follows).
    const picks = lines.findIndex((l) => /^auto picks [a-z-]+ \(lowest p99 latency\):$/.test(l));
    expect(picks).toBeGreaterThan(0);
    expect(lines[picks + 1]).toMatch(new RegExp(`^policy ${/^auto picks ([a-z-]+)/.exec(lines[picks]!)![1]}: 500 requests`));
    // The number that matters, last: the chosen policy's p99 latency beside the worst policy's.
    expect(lines.at(-1)).toMatch(/^p99 latency [\d.]+ ms with [a-z-]+ \([a-z-]+: [\d.]+ ms\), \d+ switches for 500 requests$/);
  }, 120_000);
});
