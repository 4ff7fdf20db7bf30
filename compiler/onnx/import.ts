// ONNX ModelProto -> graph-level Module. Reads structure only: weights stay on
// disk as references, so a 7B model imports without touching its weight file.

import { basename, extname } from "node:path";
import type { Constant, Graph, Module, Node, TensorType } from "../../ir/graph/graph.js";
import { fail, withLocation } from "../../ir/diagnostics.js";
import { dtypeFromOnnx, onnxTypeName } from "../../ir/dtype.js";
import type { Dim } from "../../ir/symbolic.js";
import { isSymbolName, parseDim } from "../../ir/symbolic.js";
import { kernelFor } from "../../targets/reference/kernel-table.js";
import type { FunctionProto, ModelProto, ValueInfoProto } from "./proto.js";
import { toNumber } from "./proto.js";
import type { ImportContext } from "./tensors.js";
import { importTensor } from "./tensors.js";
import type { NodeImport } from "./nodes.js";
import { functionKey, importNode } from "./nodes.js";
import { topologicalOrder } from "./topo.js";
import { recordOf } from "../../ir/name-record.js";

/** Oldest ai.onnx opset whose semantics tierflow implements. */
export const MIN_OPSET = 13;

/** Canonical dim from an ONNX dim_param: an expression if it reads as one, else a sanitised symbol. */
function dimFromParam(param: string): Dim {
  try {
    return parseDim(param);
  } catch {
    const clean = param.replace(/[^A-Za-z0-9_.]/g, "_");
    return isSymbolName(clean) ? clean : `d_${clean}`;
  }
}

function valueType(info: ValueInfoProto, unknownDim: () => string): TensorType | undefined {
  const tensor = info.type?.tensorType;
  if (!tensor) {
    if (info.type) fail(`value '${info.name}' is not a tensor (sequences, maps and optionals are not supported)`);
    return undefined;
  }
  const dtype = dtypeFromOnnx(tensor.elemType ?? 0);
  if (!dtype || dtype === "str") fail(`value '${info.name}' has unsupported element type ${onnxTypeName(tensor.elemType ?? 0)}`);
  if (!tensor.shape) return { dtype, shape: null };
  const shape = (tensor.shape.dim ?? []).map((d): Dim => {
    if (d.dimParam) return dimFromParam(d.dimParam);
    if (d.dimValue !== null && d.dimValue !== undefined) {
      const v = toNumber(d.dimValue, `dim of '${info.name}'`);
      if (v < 0) fail(`value '${info.name}' has negative dim ${v}`);
      return v;
    }
    return unknownDim();
  });
  const concrete = shape.filter((d): d is number => typeof d === "number");
  if (!Number.isSafeInteger(concrete.reduce((p, d) => p * d, 1))) {
    fail(`value '${info.name}' has dims [${shape.join(", ")}] whose product overflows`);
  }
  return { dtype, shape };
}

export interface ImportSource {
  /** Folder that external data must stay inside (the model file's folder). */
  readonly modelDir: string;
  /** Model file name relative to modelDir. */
  readonly modelFile: string;
}

export function importModelProto(model: ModelProto, bytes: Uint8Array, source: ImportSource): Module {
  const file = source.modelFile;
  const versions = new Map<string, number>();
  for (const o of model.opsetImport ?? []) {
    const domain = o.domain === "ai.onnx" ? "" : o.domain ?? "";
    versions.set(domain, toNumber(o.version, "opset version"));
  }
  const opsets = recordOf(versions);
  const opset = versions.get("") ?? fail("the model imports no ai.onnx opset", { file });
  if (opset < MIN_OPSET) fail(`ai.onnx opset ${opset} is older than ${MIN_OPSET}, the oldest tierflow supports`, { file });

  const g = model.graph!;
  const ctx: ImportContext = { modelDir: source.modelDir, modelFile: file, fileBytes: bytes };
  let unknown = 0;
  const unknownDim = () => `unk__${unknown++}`;

  const constants = new Map<string, Constant>();
  for (const init of g.initializer ?? []) {
    const name = init.name ?? "";
    if (constants.has(name)) fail(`initializer '${name}' is defined twice`, { file });
    constants.set(name, withLocation({ file }, () => importTensor(init, `initializer '${name}'`, ctx)));
  }
  if ((g.sparseInitializer ?? []).length > 0) fail("sparse initializers are not supported", { file });

  const types = new Map<string, TensorType>();
  const inputs: string[] = [];
  for (const info of g.input ?? []) {
    const name = info.name ?? "";
    if (constants.has(name)) continue; // older exporters list initializers as inputs too
    if (types.has(name)) fail(`graph input '${name}' is declared twice`, { file });
    const t = withLocation({ file }, () => valueType(info, unknownDim));
    if (!t) fail(`graph input '${name}' has no type`, { file });
    types.set(name, t);
    inputs.push(name);
  }
  for (const [name, c] of constants) {
    types.set(name, c.kind === "literal" ? { dtype: c.tensor.dtype, shape: [...c.tensor.dims] } : { dtype: c.dtype, shape: [...c.dims] });
  }

  const functions = new Map<string, FunctionProto>();
  for (const fn of model.functions ?? []) functions.set(functionKey(fn.domain ?? "", fn.name ?? ""), fn);
  const imp: NodeImport = { ctx, functions, counter: { next: 0 }, names: new Set() };
  const raw: Node[] = [];
  for (const n of g.node ?? []) withLocation({ file }, () => importNode(n, imp, raw));

  // Constant nodes become literal constants: shape arithmetic and folding need their values.
  const nodes: Node[] = [];
  for (const n of raw) {
    if (n.op === "Constant" && n.domain === "") {
      const out = n.outputs[0] ?? "";
      const tensor = withLocation({ file, node: n.name }, () => kernelFor(n)!([], { attrs: n.attrs, opset, outputCount: 1 })[0]!);
      if (constants.has(out) || types.has(out)) fail(`value '${out}' is defined twice`, { file, node: n.name });
      constants.set(out, { kind: "literal", tensor });
      types.set(out, { dtype: tensor.dtype, shape: [...tensor.dims] });
    } else nodes.push(n);
  }

  const outputs = (g.output ?? []).map((o) => o.name ?? "");
  const ordered = withLocation({ file }, () => topologicalOrder(nodes, new Set([...inputs, ...constants.keys()])));
  for (const o of outputs) {
    if (!types.has(o) && !ordered.some((n) => n.outputs.includes(o))) fail(`graph output '${o}' is never defined`, { file });
  }
  const graph: Graph = { name: g.name || "main", inputs, outputs, constants, nodes: ordered, types };
  return {
    name: basename(file, extname(file)),
    source: file,
    irVersion: toNumber(model.irVersion, "ir_version"),
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(" "),
    opsets,
    graphs: [graph],
  };
}

