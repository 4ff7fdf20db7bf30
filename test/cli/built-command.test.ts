// The built command, as a new user runs it after `npm install` (bin/tierflow.js
// over dist/): the quick start prints a result that teaches and nothing to
// ignore, and the first hour's checks hold there too, not only from source.

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { validateJson } from "../../ir/json-schema.js";
import type { Schema } from "../../ir/json-schema.js";

const ROOT = join(import.meta.dirname, "..", "..");
const BIN = join(ROOT, "bin", "tierflow.js");
const dir = mkdtempSync(join(tmpdir(), "tierflow-built-"));

function tierflow(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: "utf8", timeout: 120_000, env: { ...process.env, NODE_OPTIONS: "" } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe("the built command", () => {
  beforeAll(() => {
    // npm install builds dist/ (the prepare script); a checkout without it has not been installed.
    expect(existsSync(join(ROOT, "dist", "compiler", "cli", "main.js")), "dist/ is missing: run npm install (or npm run build)").toBe(true);
  });

  it("runs the quick start: 150 experts that do not all fit, policies that differ, the number that matters last", () => {
    const out = join(dir, "coe-7b");
    const c = tierflow("compile", "examples/coe/coe-7b.json", "-o", out);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stderr).toBe("");
    expect(c.stdout).toMatch(/^CoE on one sn40l-node node \(8 sockets\): router \+ 150 experts/);
    const s = tierflow("simulate", out);
    expect(s.code, s.stderr).toBe(0);
    expect(s.stderr).toBe("");
    const lines = s.stdout.trim().split("\n");
    expect(lines.at(-1)).toMatch(/^p99 latency [\d.]+ ms with [a-z-]+ \([a-z-]+: [\d.]+ ms\), \d+ switches for 500 requests$/);
    const switches = [...s.stdout.matchAll(/ (\d+) switches, /g)].map((m) => Number(m[1]));
    expect(switches).toHaveLength(4);
    expect(new Set(switches).size).toBeGreaterThan(1); // the policies differ
    expect(switches.every((n) => n > 0)).toBe(true); // switches are paid: not every expert fits
    expect(s.stdout).toMatch(/^auto picks [a-z-]+ \(lowest p99 latency\):$/m);
  }, 120_000);

  it("prints its version, refuses flags it cannot honour, names the wrong kind of file, and prints JSON for scripts", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
    expect(tierflow("--version").stdout.trim()).toBe(pkg.version);
    const refused = tierflow("compile", "examples/coe/coe.json", "--parallel", "tp=2", "-o", join(dir, "x"));
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim().split("\n")).toHaveLength(1);
    expect(refused.stderr).toMatch(/--parallel: not for a CoE manifest/);
    const coe = join(dir, "coe");
    expect(tierflow("compile", "examples/coe/coe.json", "-o", coe, "-q").code).toBe(0);
    const kind = tierflow("verify", join(coe, "coe-plan.json"));
    expect(kind.code).toBe(1);
    expect(kind.stderr).toMatch(/this is a CoE plan/);
    const json = tierflow("simulate", coe, "--requests", "40", "--json");
    expect(json.code, json.stderr).toBe(0);
    const schema = JSON.parse(readFileSync(join(ROOT, "compiler", "cli", "schemas", "simulate.schema.json"), "utf8")) as Schema;
    expect(validateJson(JSON.parse(json.stdout), schema)).toBeUndefined();
  }, 120_000);

  it("emits graph IR that compiles back, and shows no progress when piped", () => {
    const ir = join(dir, "llama.tfg");
    const e = tierflow("inspect", "examples/models/llama-tiny.dynamo.onnx", "--emit", "graph", "-o", ir);
    expect(e.code, e.stderr).toBe(0);
    const c = tierflow("compile", ir, "--target", "toy", "-o", join(dir, "from-ir"));
    expect(c.code, c.stderr).toBe(0);
    expect(c.stderr).toBe("");
  }, 120_000);
});
