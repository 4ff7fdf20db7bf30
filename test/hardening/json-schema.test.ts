// The schema files and validateJson (ir/json-schema.ts, on ajv): every schema file is valid
// 2020-12 and compiles in strict mode; each types every value and closes every object, which is
// what makes NaN and ±Infinity fail everywhere in a plan or target; and a violation reads as one
// line, "path: message", in the words the diagnostics and tests match.

import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/compile.js";
import { planToJson } from "../../compiler/plan-json.js";
import type { Schema } from "../../ir/json-schema.js";
import { validateJson } from "../../ir/json-schema.js";
import { ROOT } from "../support/cli.js";

const SCHEMA_FILES = [
  "ir/placement/plan.schema.json", "targets/target.schema.json", "compiler/coe/manifest.schema.json", "compiler/coe/coe-plan.schema.json",
  ...readdirSync(join(ROOT, "compiler", "cli", "schemas")).map((f) => `compiler/cli/schemas/${f}`),
];
const read = (file: string) => JSON.parse(readFileSync(join(ROOT, file), "utf8")) as Schema;

// Places in `schema` where a value is not given a type, or an object takes keys it does not name.
function openPlaces(schema: Schema, path = "$"): string[] {
  const found: string[] = [];
  if (schema.type === undefined && schema.$ref === undefined && schema.enum === undefined && schema.const === undefined) found.push(`${path}: untyped`);
  if ([schema.type].flat().includes("object") && schema.additionalProperties === undefined) found.push(`${path}: open object`);
  if (schema.additionalProperties === true) found.push(`${path}: open object`);
  for (const [key, sub] of Object.entries(schema.properties ?? {})) found.push(...openPlaces(sub, `${path}.${key}`));
  for (const [key, sub] of Object.entries(schema.$defs ?? {})) found.push(...openPlaces(sub, `#/$defs/${key}`));
  if (typeof schema.additionalProperties === "object") found.push(...openPlaces(schema.additionalProperties, `${path}.*`));
  if (schema.items) found.push(...openPlaces(schema.items, `${path}[]`));
  return found;
}

describe("the schema files", () => {
  for (const file of SCHEMA_FILES) {
    it(`${file} is valid 2020-12, compiles in strict mode and leaves no number unchecked`, () => {
      const schema = read(file);
      const ajv = new Ajv2020({ strict: true, allowUnionTypes: true });
      expect(ajv.validateSchema(schema), JSON.stringify(ajv.errors)).toBe(true);
      expect(() => validateJson({}, schema)).not.toThrow();
      expect(openPlaces(schema)).toEqual([]);
    });
  }
});

describe("validateJson", () => {
  const target = read("targets/target.schema.json");
  const toy = JSON.parse(readFileSync(join(ROOT, "targets", "presets", "toy.json"), "utf8")) as { hbm: { bandwidth: number }; compute: { units: number } };

  it("refuses NaN and ±Infinity in a target and a plan, which JSON.parse never yields but a caller can pass", async () => {
    for (const bad of [NaN, Infinity, -Infinity]) {
      expect(validateJson({ ...toy, hbm: { ...toy.hbm, bandwidth: bad } }, target)).toBe(`$.hbm.bandwidth: ${bad} is not a finite number`);
      expect(validateJson({ ...toy, compute: { ...toy.compute, units: bad } }, target)).toBe(`$.compute.units: ${bad} is not a finite number`);
    }
    const dir = mkdtempSync(join(tmpdir(), "tierflow-json-schema-"));
    const model = join(dir, "chain.tfg");
    writeFileSync(model, ['module @chain {', '  source = "chain.tfg"', "  ir_version = 8", '  opset "" = 17', "",
      "  graph @main(%x: f32[4, 8]) -> (%v1) {", "    %c: f32[] = dense [1.0]", "    %v0 = Add(%x, %c)", "    %v1 = Add(%v0, %c)",
      "    return %v1", "  }", "}", ""].join("\n"));
    const plan = JSON.parse(planToJson((await compile(model, { target: "toy" })).plan)) as { prediction: { seconds: number } };
    const schema = read("ir/placement/plan.schema.json");
    expect(validateJson(plan, schema)).toBeUndefined();
    expect(validateJson({ ...plan, prediction: { ...plan.prediction, seconds: NaN } }, schema)).toBe("$.prediction.seconds: NaN is not a finite number");
  });

  it("names the path of the offending value: $.a.b, [i] for an index, [\"key\"] for any other key", () => {
    const schema: Schema = {
      type: "object", additionalProperties: false,
      properties: { list: { type: "array", items: { type: "integer" } }, map: { type: "object", additionalProperties: { type: "string" } } },
    };
    expect(validateJson({ list: [1, 2, "x"] }, schema)).toBe("$.list[2]: expected integer, got string");
    expect(validateJson({ map: { ok: "a", "0": 1 } }, schema)).toBe('$.map["0"]: expected string, got integer');
    expect(validateJson({ map: { "a/b~c": 1.5 } }, schema)).toBe('$.map["a/b~c"]: expected string, got number');
    expect(validateJson({ list: [1], map: { x: "y" } }, schema)).toBeUndefined();
  });

  it("words each violation as the diagnostics do", () => {
    const schema: Schema = {
      type: "object", additionalProperties: false, required: ["name"],
      properties: {
        name: { type: "string", pattern: "^[a-z]+$" }, kind: { enum: ["a", "b"] }, format: { const: "x" },
        count: { type: "integer", minimum: 1, maximum: 10 }, rate: { type: "number", exclusiveMinimum: 0 },
        list: { type: "array", minItems: 2, items: { type: ["string", "integer"] } }, map: { type: "object", minProperties: 1, additionalProperties: { type: "boolean" } },
      },
    };
    const cases: [unknown, string][] = [
      [{}, "$: missing required field 'name'"],
      [{ name: "n", turbo: true }, "$: unknown field 'turbo'"],
      [[], "$: expected object, got array"],
      [{ name: "N1" }, "$.name: 'N1' does not match ^[a-z]+$"],
      [{ name: "n", kind: "c" }, '$.kind: "c" is not one of "a", "b"'],
      [{ name: "n", format: "y" }, '$.format: expected "x"'],
      [{ name: "n", count: 0 }, "$.count: 0 is below the minimum 1"],
      [{ name: "n", count: 1e23 }, "$.count: 1e+23 is above the maximum 10"],
      [{ name: "n", count: "3" }, "$.count: expected integer, got string"],
      [{ name: "n", rate: 0 }, "$.rate: 0 must be greater than 0"],
      [{ name: "n", list: [1] }, "$.list: needs at least 2 items"],
      [{ name: "n", list: [1, null] }, "$.list[1]: expected string or integer, got null"],
      [{ name: "n", map: {} }, "$.map: needs at least 1 entries"],
      [{ name: NaN }, "$.name: expected string, got number"],
      [{ name: "n", count: Infinity }, "$.count: Infinity is not a finite number"],
    ];
    for (const [value, message] of cases) expect(validateJson(value, schema), JSON.stringify(value)).toBe(message);
  });

  it("reads required fields and properties named after Object.prototype members as own keys only", () => {
    const schema: Schema = { type: "object", required: ["constructor"], properties: { constructor: { type: "string" }, toString: { type: "string" } } };
    expect(validateJson({}, schema)).toBe("$: missing required field 'constructor'");
    expect(validateJson({ constructor: "c" }, schema)).toBeUndefined();
    expect(validateJson({ constructor: "c", toString: 1 }, schema)).toBe("$.toString: expected string, got integer");
    expect(validateJson(1, { $defs: {}, $ref: "#/$defs/toString" })).toBe("$: schema reference #/$defs/toString is not defined");
  });

  it("compiles a schema object once", () => {
    const schema = read("targets/target.schema.json");
    validateJson(toy, schema);
    const start = performance.now();
    for (let i = 0; i < 1000; i++) expect(validateJson(toy, schema)).toBeUndefined();
    expect(performance.now() - start).toBeLessThan(1000);
  });
});
