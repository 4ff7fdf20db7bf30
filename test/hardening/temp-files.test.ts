// The temporary of an atomic write has a random name and is created
// exclusively: a symlink planted in the output folder, at the old predictable
// name (.plan.json.PID.tmp) or even at the very name drawn, is never followed,
// and a failed write removes its temporary.

import { lstatSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";

// Random bytes the test can predict, to plant a symlink at the name the next write will draw.
const drawn = vi.hoisted(() => ({ fixed: undefined as Buffer | undefined, seen: [] as string[] }));
vi.mock("node:crypto", async (original) => {
  const crypto = await original<typeof import("node:crypto")>();
  const randomBytes = (n: number): Buffer => {
    const bytes = drawn.fixed ?? crypto.randomBytes(n);
    drawn.seen.push(bytes.toString("hex"));
    return bytes;
  };
  return { ...crypto, default: { ...crypto, randomBytes }, randomBytes };
});

const { writeAtomically } = await import("../../compiler/emit.js");
const { writeTensorFile } = await import("../../compiler/tensor-files.js");
const { tensorFromValues } = await import("../../ir/tensor.js");
const { TierflowError } = await import("../../ir/diagnostics.js");

function folderWithVictim(): { out: string; victim: string } {
  const out = mkdtempSync(join(tmpdir(), "tierflow-temp-out-"));
  const victim = join(mkdtempSync(join(tmpdir(), "tierflow-temp-victim-")), "victim.txt");
  writeFileSync(victim, "keep");
  return { out, victim };
}

describe("temporaries of atomic writes", () => {
  it("a symlink at the old predictable name is not followed", () => {
    const { out, victim } = folderWithVictim();
    const planted = `.plan.json.${process.pid}.tmp`;
    symlinkSync(victim, join(out, planted));
    writeAtomically(out, "plan.json", "{}");
    expect(readFileSync(victim, "utf8")).toBe("keep");
    expect(readFileSync(join(out, "plan.json"), "utf8")).toBe("{}");
    expect(readdirSync(out).sort()).toEqual([planted, "plan.json"]);
  });

  it("names are random: each write draws its own", () => {
    const { out } = folderWithVictim();
    drawn.seen.length = 0;
    writeAtomically(out, "report.txt", "0");
    writeAtomically(out, "report.txt", "1");
    expect(drawn.seen).toHaveLength(2);
    expect(drawn.seen[0]).toMatch(/^[0-9a-f]{24}$/);
    expect(drawn.seen[0]).not.toBe(drawn.seen[1]);
    expect(readdirSync(out)).toEqual(["report.txt"]);
  });

  it("a symlink at the drawn name itself is refused (O_EXCL), not followed, and left in place", () => {
    const { out, victim } = folderWithVictim();
    drawn.fixed = Buffer.alloc(12, 1);
    const planted = `.plan.json.${drawn.fixed.toString("hex")}.tmp`;
    symlinkSync(victim, join(out, planted));
    try {
      expect(() => writeAtomically(out, "plan.json", "{}")).toThrow(TierflowError);
      expect(() => writeAtomically(out, "plan.json", "{}")).toThrow(/cannot write plan\.json: EEXIST/);
      expect(() => writeTensorFile(join(out, "y.npy"), tensorFromValues("f32", [1], [1]), "npy")).not.toThrow();
    } finally {
      drawn.fixed = undefined;
    }
    expect(readFileSync(victim, "utf8")).toBe("keep");
    expect(lstatSync(join(out, planted)).isSymbolicLink()).toBe(true);
    expect(readdirSync(out).sort()).toEqual([planted, "y.npy"]);
  });

  it("the same holds for tensors written by run --output", () => {
    const { out, victim } = folderWithVictim();
    drawn.fixed = Buffer.alloc(12, 2);
    const planted = `.y.npy.${drawn.fixed.toString("hex")}.tmp`;
    symlinkSync(victim, join(out, planted));
    try {
      expect(() => writeTensorFile(join(out, "y.npy"), tensorFromValues("f32", [1], [1]), "npy")).toThrow(/cannot write file \(EEXIST/);
    } finally {
      drawn.fixed = undefined;
    }
    expect(readFileSync(victim, "utf8")).toBe("keep");
    expect(readdirSync(out)).toEqual([planted]);
  });
});
