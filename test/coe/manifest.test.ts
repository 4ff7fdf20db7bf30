// The CoE manifest: the example validates; paths that leave the manifest's
// folder, unknown route targets and malformed experts are refused with one-line diagnostics.

import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseManifest, readManifest } from "../../compiler/coe/manifest.js";
import { ROOT } from "../support/cli.js";

const EXAMPLE = join(ROOT, "examples/coe/coe.json");

function tmpManifest(): string {
  const dir = mkdtempSync(join(tmpdir(), "tierflow-coe-manifest-"));
  mkdirSync(join(dir, "base"));
  writeFileSync(join(dir, "router.onnx"), "");
  writeFileSync(join(dir, "base/model.onnx"), "");
  return join(dir, "coe.json");
}

const minimal = (over: Record<string, unknown> = {}) => ({
  format: "tierflow-coe",
  router: { model: "router.onnx", routes: { "0": "a" } },
  experts: { a: { graph: "base/model.onnx", weights: "a.data" } },
  shared_graphs: { "base/model.onnx": { external_data_location: "model.onnx.data" } },
  ...over,
});

describe("CoE manifest", () => {
  it("reads the example: three experts share the base graph, story has its own", () => {
    const m = readManifest(EXAMPLE);
    expect(m.experts.map((e) => [e.name, e.graph, e.weights])).toEqual([
      ["math", "base/model.onnx", "experts/math.data"], ["code", "base/model.onnx", "experts/code.data"],
      ["chat", "base/model.onnx", "experts/chat.data"], ["story", "experts/story.onnx", undefined],
    ]);
    expect([...m.router.routes]).toEqual([[0, "math"], [1, "code"], [2, "chat"]]);
    expect(m.sharedData.get("base/model.onnx")).toBe("model.onnx.data");
  });

  it("accepts a minimal manifest whose expert weights are not there yet", () => {
    const file = tmpManifest();
    expect(parseManifest(minimal(), file).experts[0]!.weights).toBe("a.data");
  });

  it.each([
    ["an absolute path", { experts: { a: { graph: "/etc/passwd" } } }, /absolute/],
    ["'..'", { experts: { a: { graph: "base/model.onnx", weights: "../x.data" } } }, /escapes/],
    ["a route to an unknown expert", { router: { model: "router.onnx", routes: { "0": "b" } } }, /expert 'b'/],
    ["a non-numeric route", { router: { model: "router.onnx", routes: { top: "a" } } }, /output index/],
    ["a route with a leading zero (\"01\" and \"1\" would name one output)", { router: { model: "router.onnx", routes: { "01": "a", "1": "a" } } }, /route '01' must be an output index written as 0, 1, 2/],
    ["a route index no router output can have", { router: { model: "router.onnx", routes: { "100000000000000000000": "a" } } }, /beyond the largest output index/],
    ["a share over 1", { experts: { a: { graph: "base/model.onnx", weights: "a.data", share: 1.5 } } }, /share.*maximum 1|at most 1/],
    ["shares summing over 1", {
      experts: { a: { graph: "base/model.onnx", weights: "a.data", share: 0.7 }, b: { graph: "base/model.onnx", weights: "b.data", share: 0.6 } },
    }, /shares sum to 1\.29.*at most 1/],
    ["an expert with both model and graph", { experts: { a: { model: "router.onnx", graph: "base/model.onnx" } } }, /either/],
    ["weights for an undescribed graph", { shared_graphs: {} }, /shared_graphs/],
    ["a missing router", { router: { model: "nope.onnx", routes: { "0": "a" } } }, /does not exist/],
    ["an unknown field", { extra: 1 }, /not a valid CoE manifest/],
  ])("refuses %s", (_, over, message) => {
    expect(() => parseManifest(minimal(over), tmpManifest())).toThrow(message);
  });

  it("refuses a symlink that leads out of the folder", () => {
    const file = tmpManifest();
    const outside = mkdtempSync(join(tmpdir(), "tierflow-coe-outside-"));
    writeFileSync(join(outside, "x.data"), "x");
    symlinkSync(join(outside, "x.data"), join(file, "..", "a.data"));
    expect(() => parseManifest(minimal(), file)).toThrow(/symlink/);
  });
});
