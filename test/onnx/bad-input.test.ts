// Every bad input gets one line on stderr naming the file (and node), a
// non-zero exit code, and no stack trace.

import { mkdtempSync, mkdirSync, symlinkSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { expectDiagnostic, runCli } from "../support/cli.js";
import { encodeModel } from "../../compiler/onnx/proto.js";
import type { TensorProto } from "../../compiler/onnx/proto.js";
import { ONNX_FLOAT, floatTensor, model, node, valueInfo, writeModel } from "../support/onnx-builder.js";

let dir: string;

const relu = (extra: Partial<Parameters<typeof model>[0]> = {}) => model({
  inputs: [valueInfo("x", ONNX_FLOAT, [2, 3])], outputs: ["y"], nodes: [node("Relu", ["x"], ["y"], {}, "relu")], ...extra,
});

function external(name: string, location: string, length = 24, offset = 0): TensorProto {
  return {
    name, dims: [2, 3], dataType: ONNX_FLOAT, dataLocation: 1,
    externalData: [{ key: "location", value: location }, { key: "offset", value: String(offset) }, { key: "length", value: String(length) }],
  };
}

const withWeight = (w: TensorProto) => model({
  inputs: [valueInfo("x", ONNX_FLOAT, [2, 3])], outputs: ["y"], initializers: [w], nodes: [node("Add", ["x", w.name!], ["y"], {}, "add")],
});

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "tierflow-bad-"));
  mkdirSync(join(dir, "model"));
  writeFileSync(join(dir, "outside.bin"), new Uint8Array(24));
});

describe("bad ONNX input", () => {
  it("a file that is not ONNX", () => {
    const f = join(dir, "text.onnx");
    writeFileSync(f, "this is plainly not a protobuf file at all\n");
    expectDiagnostic(["inspect", f], /text\.onnx: not an ONNX model/);
  });
  it("a truncated protobuf", () => {
    const full = encodeModel(relu({ initializers: [floatTensor("w", [64], new Array(64).fill(1))] }));
    const f = join(dir, "truncated.onnx");
    writeFileSync(f, full.slice(0, full.length - 40));
    expectDiagnostic(["inspect", f], /truncated\.onnx: (truncated protobuf|not an ONNX model)/);
  });
  it("an empty file", () => {
    const f = join(dir, "empty.onnx");
    writeFileSync(f, "");
    expectDiagnostic(["inspect", f], /empty\.onnx: not an ONNX model/);
  });
  it("a missing file", () => {
    expectDiagnostic(["inspect", join(dir, "nope.onnx")], /nope\.onnx: cannot read ONNX model: it does not exist or is not readable/);
  });
  it("a cycle", () => {
    const f = writeModel(join(dir, "cycle.onnx"), model({
      inputs: [valueInfo("x", ONNX_FLOAT, [2])], outputs: ["b"],
      nodes: [node("Add", ["x", "b"], ["a"], {}, "first"), node("Relu", ["a"], ["b"], {}, "second")],
    }));
    expectDiagnostic(["inspect", f], /cycle\.onnx: node '(first|second)': the graph has a cycle/);
  });
  it("an undefined input", () => {
    const f = writeModel(join(dir, "undef.onnx"), model({
      inputs: [valueInfo("x", ONNX_FLOAT, [2])], outputs: ["y"], nodes: [node("Add", ["x", "ghost"], ["y"], {}, "adder")],
    }));
    expectDiagnostic(["inspect", f], /undef\.onnx: node 'adder': input 'ghost' is not defined/);
  });
  it("a dim product that overflows", () => {
    const f = writeModel(join(dir, "huge.onnx"), model({
      inputs: [valueInfo("x", ONNX_FLOAT, [2 ** 30, 2 ** 30, 2 ** 30])], outputs: ["y"], nodes: [node("Relu", ["x"], ["y"], {}, "r")],
    }));
    expectDiagnostic(["inspect", f], /huge\.onnx: .*product overflows/);
  });
  it("a float16 or int8 initializer whose int32_data entries do not fit the type", () => {
    for (const [type, value, name] of [[10, 0x1_3c00, "f16"], [3, 300, "i8"]] as const) {
      const w: TensorProto = { name: "w", dims: [2, 3], dataType: type, int32Data: [value, 0, 0, 0, 0, 0] };
      const f = writeModel(join(dir, `int32-${name}.onnx`), model({
        inputs: [valueInfo("x", type, [2, 3])], outputs: ["y"], initializers: [w], nodes: [node("Add", ["x", "w"], ["y"], {}, "add")],
      }));
      expectDiagnostic(["inspect", f], new RegExp(`int32-${name}\\.onnx: .*'w'.*int32_data entry 0 is ${value}, outside`));
    }
  });
  it("an unsupported op", () => {
    const f = writeModel(join(dir, "unsupported.onnx"), model({
      inputs: [valueInfo("x", ONNX_FLOAT, [2])], outputs: ["y"], nodes: [node("Frobnicate", ["x"], ["y"], {}, "frob")],
    }));
    expectDiagnostic(["inspect", f], /unsupported\.onnx: node 'frob': unsupported op 'Frobnicate'/);
  });
  it("an op from an unknown domain", () => {
    const f = writeModel(join(dir, "domain.onnx"), model({
      inputs: [valueInfo("x", ONNX_FLOAT, [2])], outputs: ["y"],
      nodes: [node("FusedGelu", ["x"], ["y"], {}, "fg", "com.example")], extraOpsets: [{ domain: "com.example", version: 1 }],
    }));
    expectDiagnostic(["inspect", f], /node 'fg': unsupported op 'FusedGelu' in domain 'com\.example'/);
  });
  it("control flow", () => {
    const f = writeModel(join(dir, "if.onnx"), model({
      inputs: [valueInfo("c", 9, [])], outputs: ["y"], nodes: [node("If", ["c"], ["y"], {}, "branch")],
    }));
    expectDiagnostic(["inspect", f], /node 'branch': control-flow op 'If' is not supported/);
  });
  it("an opset older than 13", () => {
    const f = writeModel(join(dir, "old.onnx"), relu({ opset: 11 }));
    expectDiagnostic(["inspect", f], /old\.onnx: ai\.onnx opset 11 is older than 13/);
  });
});

describe("external data stays inside the model's folder", () => {
  it("an absolute location is refused", () => {
    const f = writeModel(join(dir, "model/abs.onnx"), withWeight(external("w", join(dir, "outside.bin"))));
    expectDiagnostic(["inspect", f], /abs\.onnx: initializer 'w': external data location '.*outside\.bin' is absolute/);
  });
  it("a location with '..' is refused", () => {
    const f = writeModel(join(dir, "model/dots.onnx"), withWeight(external("w", "../outside.bin")));
    expectDiagnostic(["inspect", f], /external data location '\.\.\/outside\.bin' escapes the model's folder/);
  });
  it("a Windows drive path is refused", () => {
    const f = writeModel(join(dir, "model/drive.onnx"), withWeight(external("w", "C:\\weights\\w.bin")));
    expectDiagnostic(["inspect", f], /is a drive path/);
  });
  it("a symlink that leads out is refused", () => {
    symlinkSync(join(dir, "outside.bin"), join(dir, "model/link.bin"));
    const f = writeModel(join(dir, "model/symlink.onnx"), withWeight(external("w", "link.bin")));
    expectDiagnostic(["inspect", f], /external data 'link\.bin' is a symlink that leads out of the model's folder/);
  });
  it("a file shorter than declared is refused", () => {
    writeFileSync(join(dir, "model/short.bin"), new Uint8Array(10));
    const f = writeModel(join(dir, "model/short.onnx"), withWeight(external("w", "short.bin")));
    expectDiagnostic(["inspect", f], /external data 'short\.bin' is 10 bytes, shorter than declared/);
  });
  it("a declared length that does not match the shape is refused", () => {
    const f = writeModel(join(dir, "model/len.onnx"), withWeight(external("w", "absent.bin", 12)));
    expectDiagnostic(["inspect", f], /external data length 12 does not match its 24 bytes/);
  });
  it("an absent file is fine: compiling never reads weights", () => {
    const f = writeModel(join(dir, "model/absent.onnx"), withWeight(external("w", "sub/absent.bin")));
    const r = runCli(["inspect", f]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/weights file sub\/absent\.bin: absent/);
  });
  it("a present, long enough file in a subfolder is fine", () => {
    mkdirSync(join(dir, "model/weights"), { recursive: true });
    writeFileSync(join(dir, "model/weights/ok.bin"), new Uint8Array(48));
    const f = writeModel(join(dir, "model/ok.onnx"), withWeight(external("w", "weights/ok.bin", 24, 24)));
    const r = runCli(["inspect", f]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/weights file weights\/ok\.bin: present/);
  });
});

describe("bad IR text", () => {
  it("a syntax error names line and column", () => {
    const f = join(dir, "bad.tfg");
    writeFileSync(f, "module @m {\n  source = \"m\"\n  graph @main(%x: f32[2]) -> (%y) {\n    %y = Relu(%x\n  }\n}\n");
    expectDiagnostic(["inspect", f], /bad\.tfg:5:3: expected/);
  });
  it("a type error names the node", () => {
    const f = join(dir, "type.tfg");
    writeFileSync(f, "module @m {\n  opset \"\" = 17\n  graph @main(%x: f32[2]) -> (%y) {\n    %y = Relu(%x) : i64[2] loc(\"r\")\n    return %y\n  }\n}\n");
    expectDiagnostic(["inspect", f], /type\.tfg: node 'r': output 'y' is typed i64\[2\] but Relu gives f32\[2\]/);
  });
  it("unused: keeps the fixture readable", () => {
    expect(readFileSync(join(dir, "type.tfg"), "utf8")).toContain("Relu");
  });
});
