// JSON Schema (draft 2020-12) validation of tierflow's own files: plans, CoE manifests and
// plans, targets and the CLI's --json documents, against their schema files, which stay the
// single source of truth. ajv compiles each schema once (cached per schema object) into a
// JavaScript function: it covers the whole draft rather than a hand-picked subset, and checks a
// 20 MB plan in about 20 ms where walking the schema for every value took about 250 ms. Its
// first error comes back as one line in tierflow's words, naming the JSON path of the value.
// Known weaknesses: loading ajv costs a process about 40 ms and compiling the plan schema about
// 100 ms, so reading a small plan takes about 0.15 s longer than before (a 20 MB one 0.1 s less).
// NaN and ±Infinity (which JSON.parse never yields, but a library caller can pass) are refused
// only where the schema gives the value a numeric type (ajv's strictNumbers); tierflow's schemas
// type every value and close every object (test/hardening/json-schema.test.ts checks), so none
// slips through them, but a schema with an untyped or open place would let one pass.

import type { ErrorObject, Options, ValidateFunction } from "ajv/dist/2020.js";
import { Ajv2020, MissingRefError } from "ajv/dist/2020.js";

/** The keywords tierflow's schemas use (ajv checks every keyword of the draft; this types the common ones). */
export type Schema = {
  readonly $schema?: string;
  readonly $id?: string;
  readonly title?: string;
  readonly description?: string;
  readonly type?: string | readonly string[];
  readonly enum?: readonly unknown[];
  readonly const?: unknown;
  readonly required?: readonly string[];
  readonly properties?: Readonly<Record<string, Schema>>;
  readonly additionalProperties?: boolean | Schema;
  readonly items?: Schema;
  readonly minItems?: number;
  readonly minProperties?: number;
  readonly minimum?: number;
  readonly exclusiveMinimum?: number;
  readonly maximum?: number;
  readonly pattern?: string;
  readonly $ref?: string;
  readonly $defs?: Readonly<Record<string, Schema>>;
};

const AJV_OPTIONS: Options = {
  strict: true, // an unknown keyword or a bound without its type in a schema file is a mistake there
  strictNumbers: true, // NaN and ±Infinity fail "type": "number" and "integer"
  allowUnionTypes: true, // manifest dims are ["string", "integer"]; run --json values are number, boolean or string
  addUsedSchema: false, // a schema file parsed twice (tests do) brings its $id twice
  validateSchema: false, // compiling the meta-schema would cost every command; test/hardening/json-schema.test.ts checks the files against it
};

// ajv reads `required` and `properties` as `data.x !== undefined`, which finds `constructor` on any
// object; ownProperties checks own keys instead, but makes validation about twice as slow, so only
// a schema naming an Object.prototype member gets it.
const instances: { plain?: Ajv2020; own?: Ajv2020 } = {};
// A compiled validator, or why the schema cannot be used ("schema reference ... is not defined").
const compiled = new WeakMap<Schema, ValidateFunction | string>();

// Whether `required` or `properties` anywhere in `schema` names an Object.prototype member.
function namesPrototypeMember(schema: unknown): boolean {
  if (typeof schema !== "object" || schema === null) return false;
  const s = schema as Record<string, unknown>;
  const named = [...(Array.isArray(s["required"]) ? s["required"] : []), ...Object.keys(s["properties"] ?? {})];
  if (named.some((key) => typeof key === "string" && key in Object.prototype)) return true;
  return Object.entries(s).some(([key, sub]) => key !== "enum" && key !== "const" && namesPrototypeMember(sub));
}

// The first "#/..." reference that does not resolve through own properties: ajv would follow
// `#/$defs/constructor` into Object.prototype and take the function found there as a schema.
function unresolvedRef(schema: unknown, root: unknown): string | undefined {
  if (typeof schema !== "object" || schema === null) return undefined;
  for (const [key, sub] of Object.entries(schema)) {
    if (key === "enum" || key === "const") continue;
    if (key === "$ref" && typeof sub === "string" && sub.startsWith("#")) {
      let node: unknown = root;
      for (const raw of sub.slice(1).split("/").slice(1)) {
        const part = decodeURIComponent(raw).replaceAll("~1", "/").replaceAll("~0", "~");
        if (typeof node !== "object" || node === null || !Object.hasOwn(node, part)) return sub;
        node = (node as Record<string, unknown>)[part];
      }
    } else {
      const inner = unresolvedRef(sub, root);
      if (inner) return inner;
    }
  }
  return undefined;
}

function compile(schema: Schema): ValidateFunction | string {
  const ref = unresolvedRef(schema, schema);
  if (ref !== undefined) return `schema reference ${ref} is not defined`;
  const ajv = namesPrototypeMember(schema)
    ? (instances.own ??= new Ajv2020({ ...AJV_OPTIONS, ownProperties: true }))
    : (instances.plain ??= new Ajv2020(AJV_OPTIONS));
  try {
    return ajv.compile(schema);
  } catch (e) {
    if (e instanceof MissingRefError) return `schema reference ${e.missingRef} is not defined`;
    throw e;
  }
}

function typeOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v;
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

// ajv's instancePath, a JSON pointer ("/sections/0/name"), as "$.sections[0].name", and the
// value found there; the value on the way tells an array index from an object key "0".
function locate(value: unknown, pointer: string): { path: string; found: unknown } {
  let path = "$", found = value;
  if (pointer === "") return { path, found };
  for (const raw of pointer.slice(1).split("/")) {
    const key = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    if (Array.isArray(found)) path += `[${key}]`;
    else path += IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
    found = typeof found === "object" && found !== null ? (found as Record<string, unknown>)[key] : undefined;
  }
  return { path, found };
}

function describe(e: ErrorObject, v: unknown): string {
  const p = e.params as Record<string, unknown>, limit = String(p["limit"]);
  switch (e.keyword) {
    case "type": {
      const types = [p["type"] as string | string[]].flat();
      const numeric = types.includes("number") || types.includes("integer");
      if (numeric && typeof v === "number" && !Number.isFinite(v)) return `${v} is not a finite number`;
      return `expected ${types.join(" or ")}, got ${typeOf(v)}`;
    }
    case "enum": return `${JSON.stringify(v)} is not one of ${(p["allowedValues"] as unknown[]).map((x) => JSON.stringify(x)).join(", ")}`;
    case "const": return `expected ${JSON.stringify(p["allowedValue"])}`;
    case "required": return `missing required field '${String(p["missingProperty"])}'`;
    case "additionalProperties": return `unknown field '${String(p["additionalProperty"])}'`;
    case "minimum": return `${String(v)} is below the minimum ${limit}`;
    case "exclusiveMinimum": return `${String(v)} must be greater than ${limit}`;
    case "maximum": return `${String(v)} is above the maximum ${limit}`;
    case "exclusiveMaximum": return `${String(v)} must be less than ${limit}`;
    case "pattern": return `'${String(v)}' does not match ${String(p["pattern"])}`;
    case "minItems": return `needs at least ${limit} items`;
    case "minProperties": return `needs at least ${limit} entries`;
    default: return e.message ?? `fails '${e.keyword}' ${JSON.stringify(p)}`;
  }
}

/** The first violation as "path: message", or undefined when `value` conforms. */
export function validateJson(value: unknown, schema: Schema): string | undefined {
  let validate = compiled.get(schema);
  if (validate === undefined) compiled.set(schema, validate = compile(schema));
  if (typeof validate === "string") return `$: ${validate}`;
  if (validate(value)) return undefined;
  const e = validate.errors![0]!;
  const { path, found } = locate(value, e.instancePath);
  return `${path}: ${describe(e, found)}`;
}
