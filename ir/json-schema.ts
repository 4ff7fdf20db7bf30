// A validator for the subset of JSON Schema (2020-12) that tierflow's own
// schemas use: type, enum, const, required, properties, additionalProperties,
// items, minItems, minProperties, minimum, exclusiveMinimum, maximum, pattern,
// $ref to "#/$defs/...". The schema files stay the single source of truth;
// errors name the JSON path of the offending value.

export type Schema = {
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

function typeOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v;
}

function matchesType(v: unknown, t: string): boolean {
  const actual = typeOf(v);
  return actual === t || (t === "number" && actual === "integer");
}

// Own entries only: a key named after an Object.prototype member (`constructor`, `__proto__`) is no property.
function ownEntry(record: Readonly<Record<string, Schema>> | undefined, key: string): Schema | undefined {
  return record && Object.hasOwn(record, key) ? record[key] : undefined;
}

/** The first violation as "path: message", or undefined when `value` conforms. */
export function validateJson(value: unknown, schema: Schema, root: Schema = schema, path = "$"): string | undefined {
  if (schema.$ref) {
    const name = /^#\/\$defs\/(.+)$/.exec(schema.$ref)?.[1];
    const target = name ? ownEntry(root.$defs, name) : undefined;
    if (!target) return `${path}: schema reference ${schema.$ref} is not defined`;
    return validateJson(value, target, root, path);
  }
  if (schema.type !== undefined) {
    const types = typeof schema.type === "string" ? [schema.type] : schema.type;
    if (!types.some((t) => matchesType(value, t))) return `${path}: expected ${types.join(" or ")}, got ${typeOf(value)}`;
  }
  if (schema.enum && !schema.enum.includes(value)) {
    return `${path}: ${JSON.stringify(value)} is not one of ${schema.enum.map((e) => JSON.stringify(e)).join(", ")}`;
  }
  if (schema.const !== undefined && value !== schema.const) return `${path}: expected ${JSON.stringify(schema.const)}`;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return `${path}: ${value} is not a finite number`;
    if (schema.minimum !== undefined && value < schema.minimum) return `${path}: ${value} is below the minimum ${schema.minimum}`;
    if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum) return `${path}: ${value} must be greater than ${schema.exclusiveMinimum}`;
    if (schema.maximum !== undefined && value > schema.maximum) return `${path}: ${value} is above the maximum ${schema.maximum}`;
  }
  if (typeof value === "string" && schema.pattern && !new RegExp(schema.pattern).test(value)) {
    return `${path}: '${value}' does not match ${schema.pattern}`;
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) return `${path}: needs at least ${schema.minItems} items`;
    if (schema.items) {
      for (let i = 0; i < value.length; i++) {
        const err = validateJson(value[i], schema.items, root, `${path}[${i}]`);
        if (err) return err;
      }
    }
  }
  if (typeOf(value) === "object") {
    const obj = value as Record<string, unknown>;
    for (const key of schema.required ?? []) if (!Object.hasOwn(obj, key)) return `${path}: missing required field '${key}'`;
    if (schema.minProperties !== undefined && Object.keys(obj).length < schema.minProperties) {
      return `${path}: needs at least ${schema.minProperties} entries`;
    }
    for (const [key, v] of Object.entries(obj)) {
      const sub = ownEntry(schema.properties, key);
      const childPath = /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
      if (sub) {
        const err = validateJson(v, sub, root, childPath);
        if (err) return err;
      } else if (schema.additionalProperties === false) {
        return `${path}: unknown field '${key}'`;
      } else if (typeof schema.additionalProperties === "object") {
        const err = validateJson(v, schema.additionalProperties, root, childPath);
        if (err) return err;
      }
    }
  }
  return undefined;
}
