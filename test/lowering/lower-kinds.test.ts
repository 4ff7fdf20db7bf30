// Lowering never guesses a kernel kind: every op in the graph-level table
// either lowers to a listed kind or is rewritten before lowering (an imported
// form expand-ops replaces, or Constant, which import folds); an op with no
// lowering that reaches it is refused by name.

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { allOps } from "../../ir/graph/ops.js";
import { opKey } from "../../ir/graph/graph.js";
import { kindOfOp } from "../../ir/dataflow/kinds.js";
import { compile } from "../../compiler/compile.js";
import { TierflowError } from "../../ir/diagnostics.js";

describe("kernel kinds", () => {
  it("every op lowers to a listed kind or is rewritten before lowering", () => {
    const unlisted = allOps().filter((d) => kindOfOp(opKey(d.domain, d.op)) === undefined);
    for (const d of unlisted) {
      const rewritten = d.op === "Constant" || (d.domain !== "tierflow" && (d.expand !== undefined || d.decompose !== undefined));
      expect(rewritten, `${opKey(d.domain, d.op)} has neither a kernel kind nor a rewrite before lowering`).toBe(true);
    }
  });

  it("an op with no lowering that reaches it is refused by name, with the pass that would rewrite it", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "tierflow-kinds-")), "gelu.tfg");
    writeFileSync(file, `module @m {
  opset "" = 17
  opset "com.microsoft" = 1
  graph @main(%x: f32[2, 8]) -> (%y) {
    %y = com.microsoft.FastGelu(%x) loc("gelu")
    return %y
  }
}
`);
    let err: unknown;
    try {
      await compile(file, { target: "sn40l", passes: "infer-shapes" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TierflowError);
    expect((err as TierflowError).format()).toMatch(/node 'gelu': op com\.microsoft\.FastGelu has no lowering to the dataflow level \(the expand-ops pass rewrites it into ops that have one: keep it in --passes\)/);
    // With expand-ops it lowers (its decomposition's ops all have kinds).
    const ok = await compile(file, { target: "sn40l", passes: "expand-ops,infer-shapes" });
    expect(ok.plan.sections.length).toBeGreaterThan(0);
  });
});
