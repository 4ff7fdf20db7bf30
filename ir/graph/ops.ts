// The graph-level op table: one entry per (domain, op type). The importer,
// parser, verifier, shape inference and cost analysis all look ops up here;
// nothing else switches on op names. The reference backend keys its kernels
// the same way (targets/reference/kernel-table.ts).

import type { Attr, AttrType, Attrs, Node } from "./graph.js";
import { opKey } from "./graph.js";
import type { OpDef } from "./op-def.js";
import { fail } from "../diagnostics.js";
import { ELEMENTWISE_OPS } from "./ops/elementwise.js";
import { SHAPE_OPS } from "./ops/shape.js";
import { DATA_OPS } from "./ops/data.js";
import { NN_OPS } from "./ops/nn.js";
import { REDUCE_OPS } from "./ops/reduce.js";
import { ACTIVATION_OPS } from "./ops/activation.js";
import { REPEAT_OPS } from "./ops/repeat.js";
import { COMPOSITE_OPS } from "./ops/composite.js";
import { EXPANDED_OPS } from "./ops/expanded.js";
import { QUANT_OPS } from "./ops/quant.js";
import { IMPORTED_ATTENTION_OPS } from "./ops/attention-ops.js";
import { EXACT_OPS } from "./ops/composite-exact.js";

const TABLE = new Map<string, OpDef>();

/**
 * Add op definitions to the graph-level op table (used for the built-in families and by
 * later IR extensions). An op already in the table throws an Error: ops are never replaced.
 *
 * @example
 * ```ts
 * import { lookupOp, registerOps } from "tierflow";
 *
 * // A copy of Relu under another domain, with the same arity and inference (its kernel, if it
 * // is to run, goes in the reference backend's kernel table: registerKernels).
 * const relu = lookupOp("", "Relu")!;
 * registerOps([{ ...relu, domain: "com.example" }]);
 * ```
 */
export function registerOps(defs: readonly OpDef[]): void {
  for (const def of defs) {
    const key = opKey(def.domain, def.op);
    if (TABLE.has(key)) throw new Error(`op ${key} registered twice`);
    TABLE.set(key, def);
  }
}

registerOps([...ELEMENTWISE_OPS, ...SHAPE_OPS, ...DATA_OPS, ...NN_OPS, ...REDUCE_OPS, ...ACTIVATION_OPS, ...REPEAT_OPS, ...COMPOSITE_OPS, ...EXPANDED_OPS, ...QUANT_OPS, ...IMPORTED_ATTENTION_OPS, ...EXACT_OPS]);

/**
 * The op table's definition of `op` in `domain` ("" is ai.onnx): arity, attributes, doc
 * string, type inference and cost; undefined when tierflow does not know the op.
 *
 * @example
 * ```ts
 * import { lookupOp } from "tierflow";
 *
 * const softmax = lookupOp("", "Softmax");
 * console.log(softmax?.doc, softmax?.attrs);
 * ```
 */
export function lookupOp(domain: string, op: string): OpDef | undefined {
  return TABLE.get(opKey(domain, op));
}

/**
 * Every op in the graph-level op table, built-in and registered, sorted by domain and name.
 *
 * @example
 * ```ts
 * import { allOps } from "tierflow";
 *
 * for (const def of allOps()) console.log(`${def.domain || "ai.onnx"}.${def.op}: ${def.doc}`);
 * ```
 */
export function allOps(): OpDef[] {
  return [...TABLE.values()].sort((a, b) => opKey(a.domain, a.op).localeCompare(opKey(b.domain, b.op)));
}

/** The op definition for a node, or a diagnostic naming the op. */
export function opOf(node: Pick<Node, "domain" | "op">): OpDef {
  const def = lookupOp(node.domain, node.op);
  if (!def) {
    const where = node.domain === "" ? "" : ` in domain '${node.domain}'`;
    fail(`unsupported op '${node.op}'${where}`);
  }
  return def;
}

/** The type an attribute has in the op table (used to type empty lists when parsing). */
export function attrTypeOf(domain: string, op: string, attr: string): AttrType | undefined {
  return lookupOp(domain, op)?.attrs[attr]?.type;
}

const LIST_OF: Partial<Record<AttrType, AttrType>> = { ints: "int", floats: "float", strings: "string" };

/** Check a node's attributes against its op definition: names, types, required, allowed values. */
export function checkAttrs(def: OpDef, attrs: Attrs): void {
  for (const [name, value] of Object.entries(attrs)) {
    const spec = def.attrs[name];
    if (!spec) fail(`${def.op} has no attribute '${name}'`);
    const compatible = value.type === spec.type ||
      (spec.type === "float" && value.type === "int") ||
      (spec.type === "floats" && value.type === "ints") ||
      (LIST_OF[spec.type] !== undefined && value.type === spec.type);
    if (!compatible) fail(`attribute '${name}' of ${def.op} must be ${spec.type}, got ${value.type}`);
    if (spec.oneOf && value.type === "string" && !spec.oneOf.includes(value.value)) {
      fail(`attribute '${name}' of ${def.op} is '${value.value}', expected one of ${spec.oneOf.join(", ")}`);
    }
  }
  for (const [name, spec] of Object.entries(def.attrs)) {
    if (spec.required && attrs[name] === undefined) fail(`${def.op} needs attribute '${name}'`);
  }
}

/** Coerce an attribute to the type the op table declares (an int written where a float is expected). */
export function normalizeAttr(def: OpDef | undefined, name: string, value: Attr): Attr {
  const spec = def?.attrs[name];
  if (spec?.type === "float" && value.type === "int") return { type: "float", value: value.value };
  if (spec?.type === "floats" && value.type === "ints") return { type: "floats", value: value.value };
  return value;
}

export function checkArity(def: OpDef, inputs: number, outputs: number): void {
  const { inputs: i, outputs: o } = def;
  if (inputs < i.min || inputs > i.max) {
    fail(`${def.op} takes ${i.min === i.max ? i.min : `${i.min} to ${i.max === Infinity ? "any number of" : i.max}`} inputs, got ${inputs}`);
  }
  if (outputs < o.min || outputs > o.max) {
    fail(`${def.op} has ${o.min === o.max ? o.min : `${o.min} to ${o.max === Infinity ? "any number of" : o.max}`} outputs, got ${outputs}`);
  }
}
