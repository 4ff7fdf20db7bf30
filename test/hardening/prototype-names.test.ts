// Names a user chose that Object.prototype also uses (`constructor`,
// `toString`, `__proto__`, `hasOwnProperty`) are ordinary names: a model whose
// values carry them compiles and runs as placed equal to the interpreter, and
// a plan or target whose keys carry them is refused where its schema allows no
// such key.

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/compile.js";
import { loadModel } from "../../compiler/load.js";
import { run } from "../../targets/reference/index.js";
import { executePlan } from "../../targets/runtime/index.js";
import { validateJson } from "../../ir/json-schema.js";
import type { Schema } from "../../ir/json-schema.js";
import type { Tensor } from "../../ir/tensor.js";
import { tensorFromValues } from "../../ir/tensor.js";
import { ONNX_FLOAT, floatTensor, model, node, valueInfo, writeModel } from "../support/onnx-builder.js";

const dir = mkdtempSync(join(tmpdir(), "tierflow-proto-names-"));
const NAMES = ["constructor", "toString", "__proto__", "hasOwnProperty"] as const;

// constructor [2, 8] @ toString [8, 8] -> __proto__; Relu -> hasOwnProperty; + constructor -> valueOf.
const file = writeModel(join(dir, "names.onnx"), model({
  inputs: [valueInfo("constructor", ONNX_FLOAT, [2, 8])],
  outputs: ["valueOf", "__proto__"],
  nodes: [
    node("MatMul", ["constructor", "toString"], ["__proto__"], {}, "constructor"),
    node("Relu", ["__proto__"], ["hasOwnProperty"], {}, "__proto__"),
    node("Add", ["hasOwnProperty", "constructor"], ["valueOf"], {}, "toString"),
  ],
  initializers: [floatTensor("toString", [8, 8], Array.from({ length: 64 }, (_, i) => ((i * 7) % 11) / 11 - 0.4))],
}));

function inputsOf(): Record<string, Tensor> {
  return Object.fromEntries([["constructor", tensorFromValues("f32", [2, 8], Array.from({ length: 16 }, (_, i) => i / 8 - 1))]]);
}

describe("values named after Object.prototype members", () => {
  it("run on the interpreter", async () => {
    const result = run((await loadModel(file)).module, inputsOf(), { modelDir: dir });
    expect(Object.keys(result.outputs).sort()).toEqual(["__proto__", "valueOf"]);
    expect(Object.hasOwn(result.outputs, "__proto__")).toBe(true);
  });

  for (const target of ["toy", "sn40l"]) {
    it(`compile for ${target} and run as placed, equal to the interpreter`, async () => {
      const { plan, graph, target: t } = await compile(file, { target });
      for (const name of NAMES) {
        const tensor = plan.dataflow.tensors.find((x) => x.name === name);
        if (tensor) expect(tensor.bytes, name).toBeGreaterThan(0);
      }
      for (const k of plan.dataflow.kernels) for (const [name, bytes] of Object.entries(k.reads)) expect(bytes, `${k.name} reads ${name}`).toBeGreaterThan(0);
      const placed = executePlan(plan, inputsOf(), { graph, target: t, modelDir: dirname(file) });
      const reference = run(graph, inputsOf(), { modelDir: dir });
      for (const out of ["valueOf", "__proto__"]) {
        expect(Object.hasOwn(placed.outputs, out), out).toBe(true);
        expect(Array.from(placed.outputs[out]!.data as Float32Array)).toEqual(Array.from(reference.outputs[out]!.data as Float32Array));
      }
    });
  }
});

describe("JSON keys named after Object.prototype members", () => {
  const schema: Schema = { type: "object", additionalProperties: false, properties: { a: { type: "number" } } };
  for (const key of [...NAMES, "valueOf"]) {
    it(`'${key}' is an unknown field where additionalProperties is false`, () => {
      expect(validateJson(JSON.parse(`{"a": 1, "${key}": 2}`), schema)).toBe(`$: unknown field '${key}'`);
    });
  }
  it("a $ref to a definition named after a member is not defined", () => {
    expect(validateJson(1, { $ref: "#/$defs/constructor" })).toMatch(/is not defined/);
  });
});
