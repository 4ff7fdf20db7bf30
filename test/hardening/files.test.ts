// Files a user names are read only when they are regular files within the size
// limit of their kind (docs/HARDENING.md, "Limits"): a FIFO (which would block
// forever), a device such as a symlink to /dev/zero (which would fill memory),
// a folder or an oversized file is refused in one line naming it. A CoE
// manifest's target file stays inside the manifest's folder, and request
// traces are bounded.

import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, realpathSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { TierflowError } from "../../ir/diagnostics.js";
import { FILE_LIMITS, readUserFile } from "../../ir/read-file.js";
import type { FileKind } from "../../ir/read-file.js";
import { parseManifest } from "../../compiler/coe/manifest.js";
import { MAX_TRACE_REQUESTS, generateTrace, parseTrace } from "../../compiler/coe/trace.js";
import { loadTarget } from "../../targets/target.js";
import { ROOT, expectDiagnostic, runCli } from "../support/cli.js";

const MODEL = join(ROOT, "examples", "models", "llama-tiny.torchscript.onnx");
const dir = mkdtempSync(join(tmpdir(), "tierflow-files-"));
const out = join(dir, "out");
const RELU = join(dir, "relu.tfg");

/** A FIFO at `name` in the test folder, or undefined where mkfifo is unavailable. */
function fifo(name: string): string | undefined {
  const path = join(dir, name);
  const r = spawnSync("mkfifo", [path]);
  return r.status === 0 ? path : undefined;
}
const HAS_MKFIFO = fifo("probe.fifo") !== undefined;

function zeroLink(name: string): string {
  const path = join(dir, name);
  symlinkSync("/dev/zero", path);
  return path;
}

function thrown(body: () => unknown): Error {
  try {
    body();
  } catch (err) {
    expect(err).toBeInstanceOf(TierflowError);
    return err as Error;
  }
  throw new Error("expected a TierflowError");
}

beforeAll(() => {
  writeFileSync(RELU, 'module @relu {\n  opset "" = 17\n  graph @main(%x: f32[2, 3]) -> (%y) {\n    %y = Relu(%x) : f32[2, 3]\n    return %y\n  }\n}\n');
});

// The command that reads each kind of file, given that file.
const COMMANDS: readonly (readonly [FileKind, string, (path: string) => string[]])[] = [
  ["plan", ".json", (p) => ["verify", p]],
  ["graph IR text", ".tfg", (p) => ["compile", p, "-t", "toy", "-q", "-o", out]],
  ["target file", ".json", (p) => ["compile", MODEL, "--target", p, "-q", "-o", out]],
  ["CoE manifest", ".json", (p) => ["compile", p, "-q", "-o", out]],
  ["tensor file", ".npy", (p) => ["run", RELU, "--input", `x=${p}`]],
  ["JSON tensor", ".json", (p) => ["run", RELU, "--input", `x=${p}`]],
];

describe("only regular files are read", () => {
  for (const [kind, ext, command] of COMMANDS) {
    it.skipIf(!HAS_MKFIFO)(`a FIFO given as a ${kind} is refused at once`, () => {
      const path = fifo(`${kind.replace(/ /g, "-")}-fifo${ext}`)!;
      expectDiagnostic(command(path), new RegExp(`${path}: ${kind} is not a regular file \\(a FIFO\\)`), [out]);
    });
  }
  for (const [kind, ext, command] of COMMANDS.slice(0, 3)) {
    it(`a symlink to /dev/zero given as a ${kind} is refused as a device`, () => {
      const path = zeroLink(`${kind.replace(/ /g, "-")}-zero${ext}`);
      expectDiagnostic(command(path), new RegExp(`${path}: ${kind} is not a regular file \\(a character device\\)`), [out]);
    });
  }
  it("a folder given as a plan is refused", () => {
    const path = join(dir, "folder.json");
    mkdirSync(path);
    expectDiagnostic(["verify", path], /folder\.json: plan is not a regular file \(a folder\)/);
  });
});

describe("tierflow simulate", () => {
  const coe = join(dir, "coe");
  beforeAll(() => {
    const compiled = runCli(["compile", join(ROOT, "examples", "coe", "coe.json"), "-q", "-o", coe]);
    expect(compiled.code, compiled.stderr).toBe(0);
  });
  it.skipIf(!HAS_MKFIFO)("a FIFO given as a request trace is refused at once", () => {
    const trace = fifo("trace.jsonl")!;
    expectDiagnostic(["simulate", coe, "--trace", trace], /trace\.jsonl: trace is not a regular file \(a FIFO\)/);
  });
  it("--requests over the limit is one line naming it (10^7 took 3.5 GB)", () => {
    expectDiagnostic(["simulate", coe, "--requests", "10000000"], /--requests 10000000: at most 1000000/);
  });
});

describe("files over the limit of their kind are refused before they are read", () => {
  it.each(Object.entries(FILE_LIMITS))("a %s of its limit plus one byte", (kind, limit) => {
    const path = join(dir, `big-${kind.replace(/ /g, "-")}`);
    writeFileSync(path, "");
    truncateSync(path, limit + 1); // sparse: nothing is written, and nothing must be read
    expect(thrown(() => readUserFile(path, kind as FileKind)).message)
      .toBe(`${kind} is ${limit + 1} bytes, over the limit of ${limit >= 1024 ** 3 ? `${limit / 1024 ** 3} GiB` : `${limit / 1024 ** 2} MiB`}`);
  });
  it("tierflow verify of a 300 MiB plan is one line naming the limit", () => {
    const path = join(dir, "huge-plan.json");
    writeFileSync(path, "");
    truncateSync(path, 300 * 1024 * 1024);
    expectDiagnostic(["verify", path], /huge-plan\.json: plan is 314572800 bytes, over the limit of 256 MiB/);
  });
  it("a file at its limit is read", () => {
    const path = join(dir, "target-at-limit.json");
    writeFileSync(path, "");
    truncateSync(path, FILE_LIMITS["target file"]);
    expect(readUserFile(path, "target file").byteLength).toBe(FILE_LIMITS["target file"]);
  });
});

describe("a CoE manifest's target file stays inside the manifest's folder", () => {
  const SECRET = "root:x:0:0:secret";
  let outside: string;
  const manifestIn = (target: string): { file: string; folder: string; value: unknown } => {
    const folder = mkdtempSync(join(tmpdir(), "tierflow-files-coe-"));
    mkdirSync(join(folder, "base"));
    writeFileSync(join(folder, "router.onnx"), "");
    writeFileSync(join(folder, "base", "model.onnx"), "");
    const value = {
      format: "tierflow-coe", target,
      router: { model: "router.onnx", routes: { "0": "a" } },
      experts: { a: { graph: "base/model.onnx", weights: "a.data" } },
      shared_graphs: { "base/model.onnx": { external_data_location: "model.onnx.data" } },
    };
    const file = join(folder, "coe.json");
    writeFileSync(file, JSON.stringify(value));
    return { file, folder, value };
  };
  beforeAll(() => {
    outside = mkdtempSync(join(tmpdir(), "tierflow-files-outside-"));
    writeFileSync(join(outside, "secret.json"), SECRET);
  });

  it("'..', absolute paths and /dev/zero are refused before anything is read", () => {
    for (const [target, message] of [
      ["../secret.json", /target: path '\.\.\/secret\.json' escapes the manifest's folder/],
      [join(outside, "secret.json"), /target: path '.*' is absolute; it must be relative to the manifest's folder/],
      ["/dev/zero", /target: path '\/dev\/zero' is absolute/],
    ] as const) {
      const m = manifestIn(target);
      const err = thrown(() => parseManifest(m.value, m.file));
      expect(err.message).toMatch(message);
      expect(err.message).not.toContain("root:x");
    }
  });
  it("symlinks leading out, to a file or to /dev/zero, are refused", () => {
    for (const [name, to] of [["zero.json", "/dev/zero"], ["leak.json", "OUTSIDE"]] as const) {
      const m = manifestIn(name);
      symlinkSync(to === "OUTSIDE" ? join(outside, "secret.json") : to, join(m.folder, name));
      expect(thrown(() => parseManifest(m.value, m.file)).message).toMatch(new RegExp(`target: path '${name}' is a symlink that leads out of the manifest's folder`));
    }
  });
  it.skipIf(!HAS_MKFIFO)("a FIFO inside the folder is refused as not a regular file", () => {
    const m = manifestIn("pipe.json");
    expect(spawnSync("mkfifo", [join(m.folder, "pipe.json")]).status).toBe(0);
    expect(thrown(() => parseManifest(m.value, m.file)).message).toMatch(/target: path 'pipe\.json' is not a regular file/);
  });
  it("a target file inside the folder is read, and a bad one is refused without quoting it", () => {
    const m = manifestIn("targets/mine.json");
    mkdirSync(join(m.folder, "targets"));
    copyFileSync(join(ROOT, "targets", "presets", "toy.json"), join(m.folder, "targets", "mine.json"));
    const target = parseManifest(m.value, m.file).target!;
    expect(target).toBe(join(realpathSync(m.folder), "targets", "mine.json"));
    expect(loadTarget(target).name).toBe("toy");
    writeFileSync(join(m.folder, "targets", "mine.json"), SECRET);
    const err = thrown(() => loadTarget(parseManifest(m.value, m.file).target!));
    expect(err.message).toBe("target file is not JSON (unexpected token)");
  });
  it("a preset name stays a preset name", () => {
    const m = manifestIn("sn40l-node");
    expect(parseManifest(m.value, m.file).target).toBe("sn40l-node");
  });
  it("tierflow compile of a manifest whose target leads out is one line that echoes nothing", () => {
    const m = manifestIn(`../${basename(outside)}/secret.json`);
    const r = runCli(["compile", m.file, "-q", "-o", join(m.folder, "out")]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^tierflow: error: .*coe\.json: target: path '.*' escapes the manifest's folder/);
    expect(r.stderr).not.toContain("root:x");
  });
});

describe("request traces are bounded", () => {
  const options = { experts: ["a", "b"], rate: 1, distribution: "zipf" as const, seed: 1 };
  it("generateTrace refuses more than MAX_TRACE_REQUESTS requests without allocating them", () => {
    expect(MAX_TRACE_REQUESTS).toBe(1_000_000);
    expect(thrown(() => generateTrace({ ...options, requests: 1e9 })).message).toBe("a trace of 1000000000 requests is over the limit of 1000000");
    expect(generateTrace({ ...options, requests: 3 })).toHaveLength(3);
  });
  it.each([-1, 2.5, Number.NaN, Infinity])("generateTrace refuses %s requests", (requests) => {
    expect(thrown(() => generateTrace({ ...options, requests })).message).toMatch(/the count must be a whole number >= 0/);
  });
  it("a trace file of more requests is refused before any is parsed", () => {
    expect(thrown(() => parseTrace("x\n".repeat(MAX_TRACE_REQUESTS + 1), "t.jsonl")).message)
      .toBe("the trace holds 1000001 requests, over the limit of 1000000");
  });
});
