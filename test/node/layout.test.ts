// Parallel layouts: parsing `--parallel`, the checks against the node and the
// model (one message naming the layout and the reason), and the search space
// of `--parallel auto`.

import { describe, expect, it } from "vitest";
import { enumerateLayouts, parseParallel, resolveLayout } from "../../compiler/node/layout.js";
import { parseDisaggregate } from "../../compiler/node/compile-node.js";
import { loadTarget } from "../../targets/target.js";

const node = loadTarget("sn40l-node");
const llama7b = { heads: 32, kvHeads: 32, layers: 32, experts: 0 };
const llama70b = { heads: 64, kvHeads: 8, layers: 80, experts: 0 };
const mixtral = { heads: 32, kvHeads: 8, layers: 32, experts: 8 };
const layout = (text: string, facts = llama7b, batch = 1) => {
  const r = parseParallel(text);
  if (r.kind === "auto") throw new Error("auto");
  return resolveLayout(r, node, facts, batch);
};

describe("--parallel", () => {
  it("parses layouts; dp fills the node; micro-batches fill the pipeline", () => {
    expect(parseParallel("auto")).toEqual({ kind: "auto" });
    expect(layout("tp=8")).toEqual({ tp: 8, pp: 1, ep: 1, dp: 1, microBatches: 1 });
    expect(layout("tp=4,pp=2", llama7b, 8)).toEqual({ tp: 4, pp: 2, ep: 1, dp: 1, microBatches: 2 });
    expect(layout("tp=2")).toEqual({ tp: 2, pp: 1, ep: 1, dp: 4, microBatches: 1 });
    expect(layout("tp=4", mixtral)).toMatchObject({ tp: 4, ep: 4 });
  });

  it("refuses what cannot run, naming the layout and why", () => {
    expect(() => layout("tp=3")).toThrow(/--parallel tp=3,pp=1,dp=2: sn40l-node has 8 sockets, which groups of 3 do not divide \(use 2, 4, 8\)/);
    expect(() => layout("tp=8", { ...llama7b, heads: 4 })).toThrow(/tp=8 does not divide the model's 4 attention heads/);
    expect(() => layout("tp=2,pp=4,dp=2")).toThrow(/it needs 2 x 4 x 2 = 16 sockets; sn40l-node has 8/);
    expect(() => layout("ep=2")).toThrow(/ep=2: the model has no mixture-of-experts layers/);
    expect(() => layout("tp=4,ep=2", mixtral)).toThrow(/ep must be 1 or equal tp/);
    expect(() => layout("ep=2", mixtral, 3)).toThrow(/ep=2 with tp=1 gives each socket a share of the batch: 3 is not a multiple of 2/);
    expect(() => layout("tp=8", { ...llama70b, kvHeads: 3 })).toThrow(/tp=8 and the model's 3 KV heads: one must divide the other/);
    expect(() => parseParallel("tp=2,zz=2")).toThrow(/unknown key 'zz' \(keys: tp, pp, ep, dp, mb\)/);
    expect(() => parseParallel("tp=0")).toThrow(/tp must be a positive integer/);
    expect(() => parseParallel("tp=2,tp=4")).toThrow(/'tp' is given twice/);
    expect(() => parseDisaggregate("prefill=6,decode=6", 8)).toThrow(/the groups need 12 sockets; the target has 8/);
    expect(() => parseDisaggregate("prefill=2", 8)).toThrow(/expected prefill=P,decode=D/);
  });

  it("auto tries every replica shape that fits the node and the model", () => {
    const shapes = (facts = llama7b) => enumerateLayouts(node, facts, 1).map((l) => `${l.tp}/${l.pp}/${l.dp}`);
    expect(shapes()).toEqual(["1/1/8", "1/2/4", "1/4/2", "1/8/1", "2/1/4", "2/2/2", "2/4/1", "4/1/2", "4/2/1", "8/1/1"]);
    expect(shapes({ ...llama7b, heads: 4, kvHeads: 2, layers: 2 })).toEqual(["1/1/8", "1/2/4", "2/1/4", "2/2/2", "4/1/2", "4/2/1"]);
    expect(enumerateLayouts(node, mixtral, 8).filter((l) => l.tp === 1 && l.ep > 1).map((l) => l.ep)).toEqual([2, 4, 8, 2, 4, 2]);
  });
});
