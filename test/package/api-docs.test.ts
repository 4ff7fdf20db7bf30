// The API docs build from the doc comments: TypeDoc (`npm run docs:api`, run here
// as that script runs it) fails on an export without a comment or a broken link,
// and every exported function and class carries an `@example`.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../support/cli.js";

interface Comment { summary: unknown[]; blockTags?: { tag: string }[] }
interface Reflection { name: string; kind: number; comment?: Comment; signatures?: { comment?: Comment }[]; children?: Reflection[] }

// TypeDoc's ReflectionKind values.
const FUNCTION = 64;
const CLASS = 128;

describe("the API docs", () => {
  it("build with TypeDoc, warnings as errors, and give every function and class an example", () => {
    const dir = mkdtempSync(join(tmpdir(), "tierflow-api-docs-"));
    const json = join(dir, "api.json");
    const r = spawnSync(process.execPath, [join(ROOT, "tools", "typedoc.mjs"), "--out", join(dir, "html"), "--json", json, "--treatWarningsAsErrors"], {
      cwd: ROOT, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" },
    });
    expect(r.stdout + r.stderr, "TypeDoc's warnings").not.toMatch(/\[warning\]|\[error\]/);
    expect(r.status).toBe(0);

    const exported = (JSON.parse(readFileSync(json, "utf8")) as Reflection).children ?? [];
    const exampleless = exported
      .filter((c) => c.kind === FUNCTION || c.kind === CLASS)
      .filter((c) => {
        const comments = c.kind === FUNCTION ? (c.signatures ?? []).map((s) => s.comment) : [c.comment];
        return !comments.some((comment) => comment?.blockTags?.some((t) => t.tag === "@example"));
      })
      .map((c) => c.name);
    expect(exampleless).toEqual([]);
    expect(exported.length).toBeGreaterThan(60);
  }, 60_000);
});
