// Inputs that once ended in an internal error or a crash of the engine: each
// now gets one line naming what is wrong, or runs.

import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { lookupKernel } from "../../targets/reference/kernel-table.js";
import { parseModule } from "../../ir/graph/parser.js";
import { MAX_DENSE_ELEMENTS, MAX_DENSE_TOTAL, checkDenseLiterals } from "../../ir/graph/text/dense-limits.js";
import { allocating, makeTensor, tensorFromValues } from "../../ir/tensor.js";
import type { Tensor } from "../../ir/tensor.js";
import { validateTarget } from "../../targets/target.js";
import { ROOT, expectDiagnostic } from "../support/cli.js";
import { expectTierflowError } from "../support/errors.js";
import { ONNX_FLOAT, floatTensor, int64Tensor, model, node, valueInfo, writeModel } from "../support/onnx-builder.js";

const dir = mkdtempSync(join(tmpdir(), "tierflow-internal-"));
const x = join(dir, "x.json");
writeFileSync(x, '{"dtype":"f32","dims":[1],"data":[2]}');

function shapeModel(name: string, op: "ConstantOfShape" | "Expand", shape: number[]): string {
  const inputs = op === "Expand" ? ["x", "s"] : ["s"];
  return writeModel(join(dir, `${name}.onnx`), model({
    inputs: [valueInfo("x", ONNX_FLOAT, [1])], outputs: ["y"],
    nodes: op === "Expand" ? [node("Expand", inputs, ["y"])] : [node("ConstantOfShape", inputs, ["c"]), node("Add", ["x", "c"], ["y"])],
    initializers: [int64Tensor("s", [shape.length], shape)],
  }));
}

describe("negative and absurd dims", () => {
  it("ConstantOfShape of shape [-5]: compile and run name the node (was: Invalid typed array length)", () => {
    const m = shapeModel("cos-negative", "ConstantOfShape", [-5]);
    const pattern = /node 'ConstantOfShape_c': ConstantOfShape shape has a dim -5, not a non-negative integer/;
    expectDiagnostic(["compile", m, "--target", "toy", "-q", "-o", join(dir, "out-cos")], pattern, [join(dir, "out-cos", "plan.json")]);
    expectDiagnostic(["run", m, "--input", `x=${x}`], pattern);
  });
  it("Expand to a negative dim", () => {
    expectDiagnostic(["run", shapeModel("expand-negative", "Expand", [3, -2]), "--input", `x=${x}`], /Expand shape has a dim -2/);
  });
  it("a kernel asked for a negative dim refuses it rather than throwing a RangeError", () => {
    expectTierflowError(() => makeTensor("f32", [-5]), /has a dim that is not a non-negative integer/);
    expectTierflowError(() => makeTensor("f32", [2, 0.5]), /has a dim that is not a non-negative integer/);
  });
  it("a shape input declared with 2^31 elements: refused by node, not a heap exhausted by 2^31 dims (found by fuzzing)", () => {
    for (const op of ["ConstantOfShape", "Expand", "Reshape", "Unsqueeze"] as const) {
      const inputs = op === "ConstantOfShape" ? ["s"] : ["x", "s"];
      const f = writeModel(join(dir, `rank-${op}.onnx`), model({
        inputs: [valueInfo("x", ONNX_FLOAT, [1]), valueInfo("s", 7, [2 ** 31])], outputs: ["y"], nodes: [node(op, inputs, ["y"], {}, "big")],
      }));
      expectDiagnostic(["inspect", f], new RegExp(`node 'big': .*gives the output \\d+ dims, over the limit of 64`));
    }
  });
  it("axes, split sizes or indices given as floats are refused by node, not read as fractional axes that match none (found by fuzzing)", () => {
    const f = writeModel(join(dir, "float-axes.onnx"), model({
      inputs: [valueInfo("x", ONNX_FLOAT, [2, 3])], outputs: ["y"], nodes: [node("Unsqueeze", ["x", "a"], ["y"], {}, "u")],
      initializers: [floatTensor("a", [1], [2.5])],
    }));
    expectDiagnostic(["inspect", f], /node 'u': an input that gives axes, split sizes or indices holds f32, not integers/);
  });
  it("a float shape input to Expand or ConstantOfShape is refused by node, as Reshape's is (ONNX requires int64)", () => {
    for (const op of ["Expand", "ConstantOfShape"] as const) {
      const f = writeModel(join(dir, `float-shape-${op}.onnx`), model({
        inputs: [valueInfo("x", ONNX_FLOAT, [2, 3])], outputs: ["y"],
        nodes: [node(op, op === "Expand" ? ["x", "s"] : ["s"], ["y"], {}, "n")], initializers: [floatTensor("s", [2], [2, 3])],
      }));
      expectDiagnostic(["inspect", f], new RegExp(`node 'n': ${op === "Expand" ? "shape" : "input"} has dtype f32, expected i64`));
    }
  });
  it("a tensor over the element limit names the node that makes it", () => {
    expectDiagnostic(["run", shapeModel("expand-huge", "Expand", [50000, 50000]), "--input", `x=${x}`],
      /node 'Expand_y': tensor of 2500000000 elements exceeds the limit of 2147483647/);
  });
});

describe("tensors over 2 GiB", () => {
  it("a Slice of a float tensor past 2 GiB (was: byteLength >> 2 overflowed int32)", () => {
    // Zeroed pages are not touched until written: the 2 GiB cost no memory here.
    const n = 2 ** 29 + 8;
    const big = makeTensor("f32", [n]);
    big.data[n - 1] = 7;
    const i64 = (v: number): Tensor => tensorFromValues("i64", [1], [v]);
    const [out] = lookupKernel("", "Slice")!([big, i64(n - 2), i64(n)], { attrs: {}, opset: 17, outputCount: 1 });
    expect(Array.from(out!.data as Float32Array)).toEqual([0, 7]);
  });
  it("storage the engine cannot allocate is a diagnostic", () => {
    expectTierflowError(() => allocating(2 ** 40, () => {
      throw new RangeError("Array buffer allocation failed");
    }), /cannot allocate a tensor of 1099511627776 bytes/);
  });
});

describe("target sockets", () => {
  const node = JSON.parse(readFileSync(join(ROOT, "targets", "presets", "sn40l-node.json"), "utf8")) as { node: { sockets: number } };
  it("node.sockets 1e9 with --parallel auto is refused (was: a fatal error of the engine)", () => {
    const t = structuredClone(node);
    t.node.sockets = 1e9;
    const file = join(dir, "sockets.json");
    writeFileSync(file, JSON.stringify(t));
    expectDiagnostic(["compile", join(ROOT, "examples", "models", "llama-tiny.dynamo.onnx"), "--target", file, "--parallel", "auto", "-q", "-o", join(dir, "out-sockets")],
      /\$\.node\.sockets: 1000000000 is above the maximum 4096/, [join(dir, "out-sockets", "plan.json")]);
  });
  it("4096 sockets validate", () => {
    const t = structuredClone(node);
    t.node.sockets = 4096;
    expect(validateTarget(t, "t.json").node?.sockets).toBe(4096);
  });
});

describe("dense literals in graph text", () => {
  const text = (sizes: readonly number[]) => [
    "module @m {", '  opset "" = 17', "  graph @g() -> (%c0) {",
    ...sizes.map((n, i) => `    %c${i}: f32[${n}] = dense [${Array.from({ length: n }, (_, k) => `${k % 10}.5`).join(", ")}]`),
    "    return %c0", "  }", "}", "",
  ].join("\n");

  it("one literal over the limit: file:line:col and the limit, from the CLI", () => {
    const file = join(dir, "big.tfg");
    writeFileSync(file, text([2, MAX_DENSE_ELEMENTS + 1]));
    expectDiagnostic(["run", file], new RegExp(`big\\.tfg:5:24: dense literal has more than ${MAX_DENSE_ELEMENTS} elements, the limit of one literal`));
  });
  it("literals over the limit in all", () => {
    const n = MAX_DENSE_TOTAL / 4;
    expect(checkDenseLiterals(text([n, n, n, n]))).toBeNull();
    expectTierflowError(() => parseModule(text([n, n, n, n, 2]), { file: "all.tfg" }),
      new RegExp(`dense literals hold more than ${MAX_DENSE_TOTAL} elements in all`));
  });
  it("strings, comments and attribute literals are read as such", () => {
    expect(checkDenseLiterals(`// dense [${",".repeat(MAX_DENSE_ELEMENTS + 1)}]\n%y = Op() {s = "dense [${",".repeat(MAX_DENSE_ELEMENTS + 1)}]"}`)).toBeNull();
    expect(checkDenseLiterals(`%y = Op() {t = dense<f32[2]> [${"1.0,".repeat(MAX_DENSE_ELEMENTS + 1)}1.0]}`)?.message).toMatch(/more than 262144/);
  });
  it("a literal of 65536 elements, what constant folding writes at most, still parses", () => {
    const m = parseModule(text([65536]));
    const c = m.graphs[0]!.constants.get("c0");
    expect(c?.kind === "literal" && c.tensor.data.length).toBe(65536);
  });
});
