// Node targets: the presets, their published and measured figures, and a
// user's node file with any socket count.

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadTarget, presetNames, socketCount } from "../../targets/target.js";

describe("node targets", () => {
  it("has SN40L and DGX nodes whose node figures each cite a source", () => {
    expect(presetNames()).toEqual(expect.arrayContaining(["sn40l-node", "sn40l-node16", "dgx-h100", "dgx-a100"]));
    for (const name of ["sn40l-node", "sn40l-node16", "dgx-h100", "dgx-a100"]) {
      const t = loadTarget(name);
      for (const field of ["node.sockets", "node.link.bandwidth", "node.link.latencySeconds", "node.collectives", "node.loadBandwidth"]) {
        expect(t.sources[field], `${name}: ${field}`).toBeTruthy();
      }
    }
    expect(socketCount(loadTarget("sn40l"))).toBe(1);
    const sn = loadTarget("sn40l-node");
    expect(sn.node).toMatchObject({ sockets: 8, collectives: "streamed", loadBandwidth: 1e12 }); // paper: 8 sockets, over 1 TB/s DDR -> HBM
    expect(sn.sources["node.link.bandwidth"]).toMatch(/^assumption/);
    expect(loadTarget("sn40l-node16").node!.sockets).toBe(16);
    expect(loadTarget("dgx-h100").node).toMatchObject({ sockets: 8, collectives: "kernel" });
    // A node's sockets are the single-socket presets.
    expect(sn.hbm).toEqual(loadTarget("sn40l").hbm);
    expect(loadTarget("dgx-h100").compute).toEqual(loadTarget("h100").compute);
  });

  it("loads a user's node of any socket count and refuses a malformed node field", () => {
    const dir = mkdtempSync(join(tmpdir(), "tierflow-node-target-"));
    const file = join(dir, "node6.json");
    writeFileSync(file, JSON.stringify({ ...loadTarget("sn40l-node"), name: "node6", node: { ...loadTarget("sn40l-node").node, sockets: 6 } }));
    expect(socketCount(loadTarget(file))).toBe(6);
    writeFileSync(file, JSON.stringify({ ...loadTarget("sn40l-node"), name: "node6", node: { ...loadTarget("sn40l-node").node, collectives: "magic" } }));
    expect(() => loadTarget(file)).toThrow(/\$\.node\.collectives/);
  });
});
