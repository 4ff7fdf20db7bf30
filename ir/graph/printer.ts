// Prints a Module in the graph-level text (docs/IR-TEXT.md); parser.ts reads it
// back, and print(parse(print(m))) is identical to print(m).

import { TierflowError } from "../diagnostics.js";
import type { Attr, Constant, Graph, Module, Node } from "./graph.js";
import {
  formatDenseValues, formatFloat32, formatInteger, formatType, identifier, quote, symbolName, valueName,
} from "./text/format.js";

const INDENT = "  ";

/**
 * Print a module as graph-level IR text (docs/IR-TEXT.md), which `readModule` reads back
 * from a `.tfg` file: printing what was parsed gives the same text. Throws a TierflowError
 * when a graph input has no type.
 *
 * @example
 * ```ts
 * import { writeFileSync } from "node:fs";
 * import { importOnnxFile, printModule } from "tierflow";
 *
 * const module = importOnnxFile("examples/models/llama-tiny.dynamo.onnx");
 * writeFileSync("llama-tiny.tfg", printModule(module));
 * ```
 */
export function printModule(module: Module): string {
  const lines = ["// tierflow graph IR", `module ${symbolName(module.name)} {`];
  lines.push(`${INDENT}source = ${quote(module.source)}`);
  lines.push(`${INDENT}ir_version = ${formatInteger(module.irVersion)}`);
  lines.push(`${INDENT}producer = ${quote(module.producer)}`);
  for (const domain of Object.keys(module.opsets).sort()) {
    lines.push(`${INDENT}opset ${quote(domain)} = ${formatInteger(module.opsets[domain]!)}`);
  }
  for (const graph of module.graphs) {
    lines.push("");
    printGraph(graph, lines);
  }
  lines.push("}");
  return `${lines.join("\n")}\n`;
}

function printGraph(graph: Graph, lines: string[]): void {
  const params = graph.inputs.map((name) => {
    const type = graph.types.get(name);
    if (!type) throw new TierflowError(`graph input '${name}' has no type`);
    return `${valueName(name)}: ${formatType(type)}`;
  });
  const outputs = graph.outputs.map(valueName).join(", ");
  lines.push(`${INDENT}graph ${symbolName(graph.name)}(${params.join(", ")}) -> (${outputs}) {`);
  const body = INDENT.repeat(2);
  for (const [name, constant] of graph.constants) lines.push(body + printConstant(name, constant));
  for (const node of graph.nodes) lines.push(body + printNode(node, graph));
  lines.push(`${body}return${outputs ? ` ${outputs}` : ""}`);
  lines.push(`${INDENT}}`);
}

function printConstant(name: string, constant: Constant): string {
  if (constant.kind === "literal") {
    const { tensor } = constant;
    const type = formatType({ dtype: tensor.dtype, shape: tensor.dims });
    return `${valueName(name)}: ${type} = dense ${formatDenseValues(tensor)}`;
  }
  const { ref } = constant;
  const type = formatType({ dtype: constant.dtype, shape: constant.dims });
  return `${valueName(name)}: ${type} = weight ${quote(ref.file)} offset ${formatInteger(ref.offset)} length ${formatInteger(ref.length)}`;
}

function printNode(node: Node, graph: Graph): string {
  const outputs = node.outputs.map(valueOrNone).join(", ");
  const op = node.domain === "" ? identifier(node.op) : `${quote(node.domain)}.${identifier(node.op)}`;
  let line = `${outputs} = ${op}(${node.inputs.map(valueOrNone).join(", ")})`;
  const attrNames = Object.keys(node.attrs).sort();
  if (attrNames.length > 0) {
    line += ` {${attrNames.map((name) => `${identifier(name)} = ${printAttr(node.attrs[name]!)}`).join(", ")}}`;
  }
  // Types print only when every named output has one: a partial list could not be
  // matched to its outputs when read back.
  const types = node.outputs.filter((o) => o !== "").map((o) => graph.types.get(o));
  if (types.length > 0 && types.every((t) => t !== undefined)) line += ` : ${types.map((t) => formatType(t!)).join(", ")}`;
  if (node.name !== "") line += ` loc(${quote(node.name)})`;
  return line;
}

function valueOrNone(name: string): string {
  return name === "" ? "none" : valueName(name);
}

// Attribute floats are float32 in ONNX, so they print (and read back) as float32.
function printAttr(attr: Attr): string {
  switch (attr.type) {
    case "int": return formatInteger(attr.value);
    case "float": return formatFloat32(attr.value);
    case "string": return quote(attr.value);
    case "ints": return `[${attr.value.map(formatInteger).join(", ")}]`;
    case "floats": return `[${attr.value.map(formatFloat32).join(", ")}]`;
    case "strings": return `[${attr.value.map(quote).join(", ")}]`;
    case "tensor": {
      const { value } = attr;
      return `dense<${formatType({ dtype: value.dtype, shape: value.dims })}> ${formatDenseValues(value)}`;
    }
  }
}
