// The serverless fleet example: thousands of models over six graphs in the
// mix it declares, interleaved in manifest order, each binding its own weights.

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readManifest } from "../../compiler/coe/manifest.js";
import { FLEET_MIX, writeFleet } from "../../examples/generate/serverless.js";

describe("serverless fleet example", () => {
  it("writes 3000 models over six graphs in the declared mix, interleaved", () => {
    const m = readManifest(writeFleet(mkdtempSync(join(tmpdir(), "tierflow-fleet-test-")), 3000));
    expect(m.experts).toHaveLength(3000);
    const per = (list: readonly { graph: string }[]) => FLEET_MIX.map(({ graph }) => list.filter((e) => e.graph.includes(`/${graph}/`)).length);
    expect(per(m.experts)).toEqual(FLEET_MIX.map((x) => Math.round(3000 * x.share)));
    // The first hundred, which a Zipf mapping favours, hold every size but the rarest.
    expect(per(m.experts.slice(0, 100)).filter((n) => n > 0).length).toBeGreaterThanOrEqual(5);
    expect(new Set(m.experts.map((e) => e.weights)).size).toBe(3000);
  }, 60_000);
});
