import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadTarget, peakFlops, presetNames, sramBytes } from "../../targets/target.js";
import { runCli } from "../support/cli.js";

const dir = mkdtempSync(join(tmpdir(), "tierflow-targets-"));

function numericPaths(v: unknown, prefix = ""): string[] {
  if (typeof v === "number") return [prefix];
  if (v && typeof v === "object") {
    return Object.entries(v).flatMap(([k, x]) => (k === "sources" ? [] : numericPaths(x, prefix ? `${prefix}.${k}` : k)));
  }
  return [];
}

describe("targets", () => {
  it("has the presets the compiler needs", () => {
    expect(presetNames()).toEqual(expect.arrayContaining(["a100", "h100", "sn40l", "toy"]));
  });

  it("every figure of every preset has a source", () => {
    for (const name of presetNames()) {
      const t = loadTarget(name);
      for (const path of numericPaths(t)) expect(t.sources[path], `${name}: ${path}`).toBeTruthy();
    }
  });

  it("presets reproduce the published peaks", () => {
    const within = (x: number, y: number, tol: number) => expect(Math.abs(x - y) / y).toBeLessThan(tol);
    within(peakFlops(loadTarget("sn40l"), "bf16"), 638e12, 1e-3); // SN40L paper, Table II
    within(sramBytes(loadTarget("sn40l")), 520e6, 1e-6);
    within(peakFlops(loadTarget("h100"), "bf16"), 989.4e12, 1e-3); // H100 SXM datasheet
    within(peakFlops(loadTarget("a100"), "bf16"), 312e12, 1e-3); // A100 datasheet
    expect(loadTarget("h100").hbm.bandwidth).toBe(3.0e12); // the copy bandwidth we measured
  });

  it("loads a user's target file and rejects malformed ones naming the field", () => {
    const good = { ...loadTarget("toy"), name: "my-chip" };
    const file = join(dir, "my-chip.json");
    writeFileSync(file, JSON.stringify(good));
    expect(loadTarget(file).name).toBe("my-chip");

    const bad = { ...good, hbm: { bytes: -5, bandwidth: 1e9 } };
    writeFileSync(join(dir, "bad.json"), JSON.stringify(bad));
    expect(() => loadTarget(join(dir, "bad.json"))).toThrow(/\$\.hbm\.bytes: -5 is below the minimum 1/);
    const extra = { ...good, turbo: true };
    writeFileSync(join(dir, "extra.json"), JSON.stringify(extra));
    expect(() => loadTarget(join(dir, "extra.json"))).toThrow(/unknown field 'turbo'/);
    writeFileSync(join(dir, "text.json"), "{ not json");
    expect(() => loadTarget(join(dir, "text.json"))).toThrow(/target file is not JSON/);
    expect(() => loadTarget("sn41")).toThrow(/unknown target 'sn41' \(presets: a100, .*toy/);
  });

  it("tierflow targets lists them", () => {
    const r = runCli(["targets"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/sn40l\s+dataflow\s+638\.0\s+1040/);
    expect(r.stdout).toMatch(/h100\s+kernel-by-kernel\s+989\.4\s+132/);
  });
});
