// Compile time against graph size: a chain of N elementwise Adds (each reads the
// one before and a shared constant) compiled for sn40l at -O2 through the built
// CLI, at N = 20,000 and 200,000, with wall time and peak memory; and `verify`
// of the 20,000-node plan (about 20 MB of JSON). Goals: the 200,000-node chain
// compiles in under 20 s and 1 GiB; the 20 MB plan verifies in under 2 s. A
// pass, lowering or sectioning step that is quadratic in the graph shows here.

import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { measureCli } from "./support/measure.js";

export const GOAL_COMPILE_S = 20, GOAL_COMPILE_MIB = 1024, GOAL_VERIFY_S = 2;

/** The IR text of a chain of `n` Adds. */
function chain(n: number): string {
  const lines = ["module @chain {", '  source = "chain.tfg"', "  ir_version = 8", '  opset "" = 17', "",
    `  graph @main(%x: f32[4, 8]) -> (%v${n}) {`, "    %c: f32[] = dense [1.0]", "    %v0 = Add(%x, %c)"];
  for (let i = 1; i <= n; i++) lines.push(`    %v${i} = Add(%v${i - 1}, %c)`);
  lines.push(`    return %v${n}`, "  }", "}");
  return `${lines.join("\n")}\n`;
}

export function benchCompileScale(): string[] {
  const dir = mkdtempSync(join(tmpdir(), "tierflow-compile-scale-"));
  const lines = ["compile-scale  a chain of N Adds on sn40l -O2 (built CLI, fresh process):"];
  try {
    for (const n of [20_000, 200_000]) {
      const model = join(dir, `chain${n}.tfg`), out = join(dir, `out${n}`);
      writeFileSync(model, chain(n));
      const c = measureCli(["compile", model, "--target", "sn40l", "-O2", "-q", "-o", out]);
      const goal = n === 200_000 ? `  (goal < ${GOAL_COMPILE_S} s, < ${GOAL_COMPILE_MIB} MiB) ${c.wallMs / 1e3 < GOAL_COMPILE_S && c.maxRssMiB < GOAL_COMPILE_MIB ? "PASS" : "FAIL"}` : "";
      lines.push(`  N = ${String(n).padStart(7)}: compile ${(c.wallMs / 1e3).toFixed(1).padStart(6)} s, peak RSS ${c.maxRssMiB.toFixed(0).padStart(5)} MiB${goal}`);
      if (n === 20_000) {
        const plan = join(out, "plan.json");
        const v = measureCli(["verify", plan, "--model", model]);
        const mib = statSync(plan).size / 2 ** 20;
        lines.push(`  verify of its ${mib.toFixed(1)} MiB plan: ${(v.wallMs / 1e3).toFixed(2)} s, peak RSS ${v.maxRssMiB.toFixed(0)} MiB (goal < ${GOAL_VERIFY_S} s) ${v.wallMs / 1e3 < GOAL_VERIFY_S ? "PASS" : "FAIL"}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}`) for (const line of benchCompileScale()) console.log(line);
