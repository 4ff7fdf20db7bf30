// NodeProto -> graph-level nodes: attributes converted to typed values, ONNX
// local functions inlined, Constant nodes turned into literals by the caller.

import type { Attr, Attrs, Node } from "../../ir/graph/graph.js";
import { fail, withLocation } from "../../ir/diagnostics.js";
import { lookupOp, normalizeAttr } from "../../ir/graph/ops.js";
import type { AttributeProto, FunctionProto, NodeProto } from "./proto.js";
import type { ImportContext } from "./tensors.js";
import { importLiteral } from "./tensors.js";

const CONTROL_FLOW = new Set(["If", "Loop", "Scan", "SequenceMap"]);
const MAX_FUNCTION_DEPTH = 32;
const decoder = new TextDecoder();

function attrKind(a: AttributeProto): number {
  if (a.type) return a.type;
  if (a.t) return 4;
  if (a.g) return 5;
  if (a.floats?.length) return 6;
  if (a.ints?.length) return 7;
  if (a.strings?.length) return 8;
  if (a.s?.length) return 3;
  if (a.f !== undefined && a.f !== null && a.f !== 0) return 1;
  return 2;
}

export function convertAttr(a: AttributeProto, ctx: ImportContext): Attr {
  const name = a.name ?? "";
  switch (attrKind(a)) {
    case 1: return { type: "float", value: Math.fround(a.f ?? 0) };
    case 2: return { type: "int", value: Number(String(a.i ?? 0)) };
    case 3: return { type: "string", value: decoder.decode(a.s ?? new Uint8Array()) };
    case 4: return { type: "tensor", value: importLiteral(a.t ?? fail(`attribute '${name}' has type TENSOR but holds no tensor`), `attribute '${name}'`, ctx) };
    case 6: return { type: "floats", value: (a.floats ?? []).map(Math.fround) };
    case 7: return { type: "ints", value: (a.ints ?? []).map((v) => Number(String(v))) };
    case 8: return { type: "strings", value: (a.strings ?? []).map((s) => decoder.decode(s)) };
    case 5: case 10: return fail(`attribute '${name}' holds a subgraph (control flow is not supported)`);
    default: return fail(`attribute '${name}' has unsupported kind ${a.type}`);
  }
}

/** A function call site's view of attributes: formal attribute name -> actual value. */
type AttrBindings = ReadonlyMap<string, Attr>;

function convertAttrs(node: NodeProto, ctx: ImportContext, bindings: AttrBindings): Attrs {
  const def = lookupOp(node.domain ?? "", node.opType ?? "");
  const out: Record<string, Attr> = {};
  for (const a of node.attribute ?? []) {
    const name = a.name ?? "";
    if (name === "") fail("attribute without a name");
    if (Object.hasOwn(out, name)) fail(`attribute '${name}' appears twice`);
    if (a.refAttrName) {
      const bound = bindings.get(a.refAttrName);
      if (bound) out[name] = normalizeAttr(def, name, bound);
      continue;
    }
    out[name] = normalizeAttr(def, name, convertAttr(a, ctx));
  }
  return out;
}

export interface NodeImport {
  readonly ctx: ImportContext;
  /** Local functions by "domain:name". */
  readonly functions: ReadonlyMap<string, FunctionProto>;
  /** Fresh-name source for inlined values and unnamed nodes. */
  counter: { next: number };
  /** Node names given so far: each node's name is unique in its graph. */
  readonly names: Set<string>;
}

export function functionKey(domain: string, name: string): string {
  return `${domain}:${name}`;
}

/**
 * Convert one NodeProto; calls of local functions expand into their body with
 * values renamed under the call's name, recursively.
 */
export function importNode(proto: NodeProto, imp: NodeImport, out: Node[], depth = 0,
  bindings: AttrBindings = new Map(), rename: (v: string) => string = (v) => v): void {
  const op = proto.opType ?? "";
  const domain = proto.domain === "ai.onnx" ? "" : proto.domain ?? "";
  // Node names identify a plan's kernels' nodes: an unnamed node, or one whose name an earlier node took, gets a fresh one.
  let name = proto.name || `${op}_${imp.counter.next++}`;
  while (imp.names.has(name)) name = `${proto.name || op}_${imp.counter.next++}`;
  imp.names.add(name);
  withLocation({ node: name }, () => {
    if (op === "") fail("node has no op_type");
    if (CONTROL_FLOW.has(op) && domain === "") fail(`control-flow op '${op}' is not supported`);
    const inputs = (proto.input ?? []).map((v) => (v === "" ? "" : rename(v)));
    const outputs = (proto.output ?? []).map((v) => (v === "" ? "" : rename(v)));
    const fn = imp.functions.get(functionKey(domain, op));
    if (fn) {
      if (depth >= MAX_FUNCTION_DEPTH) fail(`local functions nest deeper than ${MAX_FUNCTION_DEPTH} (recursive function '${op}'?)`);
      inlineCall(fn, proto, name, inputs, outputs, imp, out, depth, bindings);
      return;
    }
    if (!lookupOp(domain, op)) {
      fail(`unsupported op '${op}'${domain ? ` in domain '${domain}'` : ""}`);
    }
    out.push({ op, domain, inputs, outputs, attrs: convertAttrs(proto, imp.ctx, bindings), name });
  });
}

function inlineCall(fn: FunctionProto, call: NodeProto, callName: string, inputs: readonly string[],
  outputs: readonly string[], imp: NodeImport, out: Node[], depth: number, outer: AttrBindings): void {
  const formalsIn = fn.input ?? [], formalsOut = fn.output ?? [];
  if (inputs.length > formalsIn.length) fail(`function '${fn.name}' takes ${formalsIn.length} inputs, got ${inputs.length}`);
  const map = new Map<string, string>();
  formalsIn.forEach((f, i) => map.set(f, inputs[i] ?? ""));
  formalsOut.forEach((f, i) => map.set(f, outputs[i] ?? `${callName}/${f}`));
  const bindings = new Map<string, Attr>();
  for (const a of call.attribute ?? []) {
    if (a.refAttrName) {
      const bound = outer.get(a.refAttrName);
      if (bound) bindings.set(a.name ?? "", bound);
    } else bindings.set(a.name ?? "", convertAttr(a, imp.ctx));
  }
  const rename = (v: string) => {
    let r = map.get(v);
    if (r === undefined) map.set(v, (r = `${callName}/${v}`));
    return r;
  };
  for (const inner of fn.node ?? []) {
    const named = inner.name ? { ...inner, name: `${callName}/${inner.name}` } : inner;
    importNode(named, imp, out, depth + 1, bindings, rename);
  }
}

