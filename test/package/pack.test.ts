// What `npm pack` would publish: the built code, the command, and the files
// the built code reads at run time (schemas, target presets, the visualiser's
// page code) and the docs the command points to; no tests, benchmarks,
// examples or sources. And `tierflow --version`, from the built command, is the
// package's version.

import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { ROOT } from "../support/cli.js";

const npm = process.platform === "win32" ? "npm.cmd" : "npm";

describe("the package", () => {
  it("publishes the built code and what it reads, and nothing else", () => {
    const r = spawnSync(npm, ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: ROOT, encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const [packed] = JSON.parse(r.stdout) as { size: number; files: { path: string }[] }[];
    const paths = new Set(packed!.files.map((f) => f.path));
    for (const needed of [
      "bin/tierflow.js", "dist/index.js", "dist/index.d.ts", "dist/compiler/cli/main.js", "ir/placement/plan.schema.json",
      "compiler/coe/manifest.schema.json", "compiler/coe/coe-plan.schema.json", "compiler/viz/app/main.js", "compiler/viz/app/style.css",
      "targets/target.schema.json", "targets/presets/sn40l.json", "docs/ARCHITECTURE.md", "README.md", "package.json",
    ]) expect(paths.has(needed), needed).toBe(true);
    const top = new Set([...paths].map((p) => p.split("/")[0]));
    for (const absent of ["test", "bench", "examples", "node_modules", ".ci"]) expect(top.has(absent), absent).toBe(false);
    expect([...paths].filter((p) => p.endsWith(".ts") && !p.endsWith(".d.ts"))).toEqual([]);
    expect(packed!.size).toBeLessThan(2 * 2 ** 20);
  });

  it("the built visualiser inlines dagre's bundle, found from the package as an installed tierflow finds it", () => {
    // dagre is a dependency (installed with tierflow), not a devDependency.
    const manifest = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    expect(manifest.dependencies["@dagrejs/dagre"]).toBeDefined();
    const script = `import("${pathToFileURL(join(ROOT, "dist", "compiler", "viz", "assets.js")).href}").then((m) => { const a = m.appAssets(); console.log(a.libraries.length, a.libraries.includes("@license"), /var dagre=/.test(a.libraries)); })`;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const [length, licence, bundle] = r.stdout.trim().split(" ");
    expect(Number(length)).toBeGreaterThan(40_000);
    expect([licence, bundle]).toEqual(["true", "true"]);
  });

  it("tells its version from package.json", () => {
    const version = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
    const r = spawnSync(process.execPath, [join(ROOT, "bin", "tierflow.js"), "--version"], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(version);
  });
});
