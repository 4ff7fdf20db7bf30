// Progress on a terminal (compiler/cli/progress.ts): given a stand-in for a
// terminal, a bar counts up to n/n and is erased when the command's body
// returns or throws; given anything else, or --quiet / --json, nothing at all.
// Piped, as scripts run them, the long commands print no progress: stderr is
// the summary line or empty.

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { withProgress } from "../../compiler/cli/progress.js";
import type { ProgressStream } from "../../compiler/cli/progress.js";
import { ROOT, runCli } from "../support/cli.js";

/** A terminal of one line: what it shows, and everything written to it. */
class FakeTerminal implements ProgressStream {
  readonly writes: string[] = [];
  private line = "";
  private col = 0;

  constructor(readonly isTTY: boolean, readonly columns = 100) {}

  write(chunk: string): boolean {
    this.writes.push(chunk);
    // The sequences cli-progress and readline write: save/restore cursor, column, clear right, clear line.
    for (const [, esc, text] of chunk.matchAll(/(\x1b(?:\[[0-9;?]*[A-Za-z]|[78]))|([^\x1b]+)/g)) {
      if (text !== undefined) {
        if (text.includes("\n")) throw new Error(`a new line was written: ${JSON.stringify(text)}`);
        this.line = this.line.slice(0, this.col).padEnd(this.col) + text + this.line.slice(this.col + text.length);
        this.col += text.length;
        continue;
      }
      const csi = /^\x1b\[(\d*)([GK])$/.exec(esc!);
      if (csi?.[2] === "G") this.col = Number(csi[1] || 1) - 1;
      else if (csi?.[2] === "K" && (csi[1] || "0") === "0") this.line = this.line.slice(0, this.col);
      else if (csi?.[2] === "K" && csi[1] === "2") this.line = "";
    }
    return true;
  }

  get shown(): string {
    return this.line.trimEnd();
  }
}

const pause = (ms: number) => new Promise((done) => setTimeout(done, ms));

describe("the progress line", () => {
  it("on a terminal, a bar counts up to n/n and is erased once the body returns", async () => {
    const tty = new FakeTerminal(true);
    const seen: string[] = [];
    const result = await withProgress("generate", { stream: tty }, (progress) => {
      for (let done = 0; done <= 8; done++) {
        progress.stage("", { done, total: 8, unit: "tokens" });
        seen.push(tty.shown);
      }
      return 42;
    });
    expect(result).toBe(42);
    expect(seen[0]).toMatch(/^generate ░{20} 0\/8 tokens \| \d+\.\d s$/);
    expect(seen[4]).toMatch(/^generate █{10}░{10} 4\/8 tokens \| /);
    expect(seen[8]).toMatch(/^generate █{20} 8\/8 tokens \| \d+\.\d s$/);
    expect(tty.shown).toBe("");
    // Stopped: its timer no longer redraws.
    const written = tty.writes.length;
    await pause(250);
    expect(tty.writes.length).toBe(written);
  });

  it("names the stage; a stage within a counted item keeps the bar; a finished count gives way to the next stage", async () => {
    const tty = new FakeTerminal(true, 200);
    const seen: string[] = [];
    await withProgress("compile", { stream: tty }, (progress) => {
      const look = (label: string, step?: { done: number; total: number; unit: string }) => { progress.stage(label, step); seen.push(tty.shown); };
      look("router router.onnx");
      look("graph a.onnx (3 experts)", { done: 0, total: 2, unit: "graphs" });
      look("  prefill batch 1");
      look("graph b.onnx (1 experts)", { done: 1, total: 2, unit: "graphs" });
      look("residency", { done: 2, total: 2, unit: "graphs" });
      look("write");
    });
    expect(seen[0]).toMatch(/^compile \| \d+\.\d s \| router router\.onnx$/);
    expect(seen[1]).toMatch(/^compile ░{20} 0\/2 graphs \| [^|]+ \| graph a\.onnx \(3 experts\)$/);
    expect(seen[2]).toMatch(/ 0\/2 graphs \| [^|]+ \| graph a\.onnx \(3 experts\): prefill batch 1$/);
    expect(seen[3]).toMatch(/ 1\/2 graphs \| [^|]+ \| graph b\.onnx \(1 experts\)$/);
    expect(seen[4]).toMatch(/^compile █{20} 2\/2 graphs \| [^|]+ \| residency$/);
    expect(seen[5]).toMatch(/^compile \| \d+\.\d s \| write$/);
    expect(tty.shown).toBe("");
  });

  it("keeps within the terminal's width", async () => {
    const tty = new FakeTerminal(true, 40);
    await withProgress("compile", { stream: tty }, (progress) => {
      progress.stage("plan tp=4,pp=2,dp=1 and a long tail of words", { done: 3, total: 12, unit: "layouts" });
      expect(tty.shown.length).toBeLessThan(40);
      expect(tty.shown).toMatch(/^compile █{5}░{15} 3\/12 layo/);
    });
  });

  it("is erased before an error reaches the command's error line", async () => {
    const tty = new FakeTerminal(true);
    let drawn = "";
    await expect(withProgress("compile", { stream: tty }, async (progress) => {
      progress.stage("plan tp=2", { done: 1, total: 4, unit: "layouts" });
      drawn = tty.shown;
      await pause(1);
      throw new Error("no layout fits");
    })).rejects.toThrow("no layout fits");
    expect(drawn).toMatch(/1\/4 layouts/);
    expect(tty.shown).toBe("");
  });

  it.each([
    ["not a terminal", new FakeTerminal(false), {}],
    ["--quiet", new FakeTerminal(true), { quiet: true }],
    ["--json", new FakeTerminal(true), { json: true }],
    ["--json FILE", new FakeTerminal(true), { json: "out.json" }],
  ])("writes nothing at all: %s", async (_, stream, flags) => {
    await withProgress("compile", { ...flags, stream }, (progress) => {
      progress.stage("import");
      for (let done = 0; done <= 3; done++) progress.stage("plan", { done, total: 3, unit: "layouts" });
    });
    expect(stream.writes).toEqual([]);
  });
});

describe("piped, the long commands print no progress", () => {
  const dir = mkdtempSync(join(tmpdir(), "tierflow-progress-cli-"));
  const coe = join(dir, "coe");

  it("compile --parallel auto and generate: stderr is empty, then generate's one summary line", () => {
    const c = runCli(["compile", join(ROOT, "examples/models/llama-tiny.torchscript.onnx"), "--target", "sn40l-node", "--phase", "decode", "--seq", "16", "--parallel", "auto", "-o", join(dir, "auto")]);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stderr).toBe("");
    expect(c.stdout).toMatch(/layouts tried \(--parallel auto/);
    const model = join(ROOT, "examples/deploy/llama.past.dynamo.onnx");
    const one = join(dir, "one");
    expect(runCli(["compile", model, "--target", "sn40l", "--phase", "decode", "--batch", "1", "--seq", "16", "-q", "-o", one]).code).toBe(0);
    const g = runCli(["generate", join(one, "plan.json"), "--prompt-ids", "5,9,2,7", "--tokens", "4"]);
    expect(g.code, g.stderr).toBe(0);
    expect(g.stderr).toMatch(/^generate: the model takes and returns its KV cache: [^\n]*\n$/);
  });

  it("a CoE: compile, simulate (auto) and simulate --sweep-experts: stderr is empty", () => {
    const c = runCli(["compile", join(ROOT, "examples/coe/coe.json"), "-o", coe]);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stderr).toBe("");
    const s = runCli(["simulate", coe, "--requests", "50"]);
    expect(s.code, s.stderr).toBe(0);
    expect(s.stderr).toBe("");
    expect(s.stdout).toMatch(/^auto picks /m);
    const w = runCli(["simulate", coe, "--sweep-experts", "1..10", "--requests", "20"]);
    expect(w.code, w.stderr).toBe(0);
    expect(w.stderr).toBe("");
  });

  it("simulate-serving: stderr is empty", () => {
    const r = runCli(["simulate-serving", join(ROOT, "examples/models/llama-tiny.torchscript.onnx"), "--target", "sn40l-node", "--disaggregate", "prefill=4,decode=4",
      "--requests", "20", "--rates", "2000", "--prompt-tokens", "32", "--output-tokens", "8"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
  });

  it("an error after progress began is the one error line", () => {
    const r = runCli(["compile", join(dir, "missing.onnx"), "--target", "sn40l", "-o", join(dir, "missing")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^tierflow: error: [^\n]*missing\.onnx[^\n]*\n$/);
  });
});
