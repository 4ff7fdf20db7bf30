// A flag a command cannot honour is refused in one line, never ignored; layout
// flags are checked before the model is read.

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { ROOT, expectDiagnostic } from "../support/cli.js";

const COE = join(ROOT, "examples/coe/coe.json"), MODEL = join(ROOT, "examples/models/llama-tiny.dynamo.onnx");

describe("compile refuses flags it cannot honour", () => {
  const out = join(mkdtempSync(join(tmpdir(), "tierflow-flags-")), "out");
  it.each([
    ["one model's flags on a CoE manifest", [COE, "--parallel", "tp=2", "--phase", "decode", "--disaggregate", "prefill=1,decode=1"],
      /coe\.json: --phase, --parallel, --disaggregate: not for a CoE manifest/],
    ["--dim on a CoE manifest", [COE, "--dim", "batch=2"], /--dim: not for a CoE manifest/],
    ["--sockets for one model", [MODEL, "--target", "toy", "--sockets", "4"], /--sockets: only for a CoE manifest on a single-socket target/],
    ["a misspelt layout key, before the model is read", [join(ROOT, "no-such-model.onnx"), "--target", "sn40l-node", "--parallel", "tq=2"], /--parallel 'tq=2': unknown key 'tq'/],
    ["a layout on a single-socket target", [MODEL, "--target", "sn40l", "--parallel", "tp=2"], /--parallel needs a node target/],
    ["groups larger than the node", [MODEL, "--target", "sn40l-node", "--disaggregate", "prefill=5,decode=6"], /the groups need 11 sockets; the target has 8/],
  ])("%s", (_, args, words) => {
    expectDiagnostic(["compile", ...args, "-q", "-o", out], words);
    expect(existsSync(out)).toBe(false);
  });
});
