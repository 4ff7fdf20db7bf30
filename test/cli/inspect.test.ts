// `tierflow inspect` checked against hand calculation on Llama-shaped graphs:
// parameter counts from the configuration, and MatMul FLOPs from the formulas
// 2*params per token for the projections and 4*heads*head_dim*S^2 per layer
// for attention.

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LLAMA_PRESETS, writeLlama } from "../../examples/generate/llama-onnx.js";
import type { LlamaConfig } from "../../examples/generate/llama-onnx.js";
import { loadModel } from "../../compiler/load.js";
import { summarize } from "../../compiler/analysis/summary.js";
import { runCli } from "../support/cli.js";

const dir = mkdtempSync(join(tmpdir(), "tierflow-inspect-"));

function expectedParams(c: LlamaConfig): number {
  const hd = c.hidden / c.heads;
  const layer = 2 * c.hidden * c.hidden + 2 * c.hidden * c.kvHeads * hd + 3 * c.hidden * c.intermediate + 2 * c.hidden;
  return 2 * c.vocab * c.hidden + c.layers * layer + c.hidden + hd / 2;
}

function expectedMatMulFlops(c: LlamaConfig): string {
  const hd = c.hidden / c.heads;
  const perToken = 2 * (c.layers * (2 * c.hidden * c.hidden + 2 * c.hidden * c.kvHeads * hd + 3 * c.hidden * c.intermediate) + c.hidden * c.vocab);
  const attention = c.layers * c.heads * 4 * hd;
  // The rotary table's [S, 1] x [1, hd/2] product adds hd*S (no batch factor).
  return `${attention}*batch*sequence*sequence+${perToken}*batch*sequence+${hd}*sequence`;
}

describe("inspect on Llama-shaped graphs", () => {
  for (const preset of ["tiny", "llama-2-7b", "llama-2-70b"]) {
    it(`${preset}: parameters and MatMul FLOPs match the hand calculation`, async () => {
      const cfg = LLAMA_PRESETS[preset]!;
      const path = join(dir, `${preset}.onnx`);
      writeLlama(path, cfg);
      const { module } = await loadModel(path, { verifyEach: true });
      const s = summarize(module);
      let weights = 0;
      for (const c of module.graphs[0]!.constants.values()) if (c.kind === "weight") weights += c.dims.reduce((p, d) => p * d, 1);
      expect(weights).toBe(expectedParams(cfg));
      const all = Object.values(s.parameters).reduce((a, p) => a + p.count, 0);
      expect(all - weights).toBeLessThan(100); // plus a few literal scalars and shape constants
      expect(s.flopsByOp.MatMul).toBe(expectedMatMulFlops(cfg));
      expect(s.outputs[0]!.shape).toEqual(["batch", "sequence", cfg.vocab]);
      // Every value has a resolved shape: no fresh symbols.
      expect(JSON.stringify([...module.graphs[0]!.types.values()])).not.toMatch(/unk__/);
    });
  }

  it("the CLI evaluates --dim and prints JSON", () => {
    const path = join(dir, "cli-tiny.onnx");
    writeLlama(path, LLAMA_PRESETS.tiny!);
    const r = runCli(["inspect", path, "--json", "--dim", "batch=2", "--dim", "sequence=7"]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { flopsByOp: Record<string, number>; outputs: { shape: number[] }[] };
    const c = LLAMA_PRESETS.tiny!;
    const hd = c.hidden / c.heads;
    const perToken = 2 * (c.layers * (2 * c.hidden * c.hidden + 2 * c.hidden * c.kvHeads * hd + 3 * c.hidden * c.intermediate) + c.hidden * c.vocab);
    expect(j.flopsByOp.MatMul).toBe(c.layers * c.heads * 4 * hd * 2 * 49 + perToken * 14 + hd * 7);
    expect(j.outputs[0]!.shape).toEqual([2, 7, c.vocab]);
  });

  it("rejects a malformed --dim", () => {
    const r = runCli(["inspect", join(dir, "cli-tiny.onnx"), "--dim", "seq:5"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--dim 'seq:5' must look like NAME=INTEGER/);
  });
});

describe("inspect --emit graph", () => {
  it("prints only the IR, which compiles; with -o it writes the IR there and prints the summary", () => {
    const model = join(import.meta.dirname, "..", "..", "examples", "models", "llama-tiny.dynamo.onnx");
    const printed = runCli(["inspect", model, "--emit", "graph"]);
    expect(printed.code, printed.stderr).toBe(0);
    expect(printed.stdout).toMatch(/^\/\/ tierflow graph IR\nmodule @/);
    const file = join(dir, "emitted.tfg"), again = join(dir, "again.tfg");
    const written = runCli(["inspect", model, "--emit", "graph", "-o", file]);
    expect(written.stdout).toMatch(/^model llama-tiny\.dynamo/);
    for (const ir of [file]) {
      const r = runCli(["compile", ir, "--target", "toy", "-q", "-o", join(dir, "from-ir")]);
      expect(r.code, r.stderr).toBe(0);
    }
    // The emitted IR reads back to the same IR.
    expect(runCli(["inspect", file, "--emit", "graph", "-o", again]).code).toBe(0);
    expect(runCli(["inspect", again, "--emit", "graph"]).stdout).toBe(runCli(["inspect", file, "--emit", "graph"]).stdout);
    expect(runCli(["inspect", model, "-o", file]).stderr).toMatch(/-o\/--output: inspect writes only the IR of --emit to a file/);
  });
});
