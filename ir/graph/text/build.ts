// Turns the syntax tree of the graph text into a Module. Everything the grammar
// leaves open is checked here (dtypes, dims, header keys, counts), each error
// pointing at the token it is about.

import type { CstNode, IToken } from "chevrotain";
import { isDType } from "../../dtype.js";
import type { Dim } from "../../symbolic.js";
import { parseDim } from "../../symbolic.js";
import type { Tensor } from "../../tensor.js";
import type { Attr, Constant, Graph, Module, Node, TensorType } from "../graph.js";
import { endOffsetOf, errorAt, nodeOf, nodesOf, optionalNode, optionalToken, pinnedTo, sigilName, tokenOf, tokensOf, unquote } from "./cst.js";
import type { ListType } from "./literals.js";
import { readAttrValue, readDense } from "./literals.js";
import { formatType, quote, valueName } from "./format.js";
import { Identifier, Integer, None, StringLit } from "./lexer.js";
import { recordOf } from "../../name-record.js";

export interface BuildContext {
  /** The whole text being parsed, for reading dims as written. */
  readonly text: string;
  /** The element type of an empty list attribute `[]`, which the text cannot show. */
  readonly emptyListType: (domain: string, op: string, attr: string) => ListType;
}

/**
 * The module of a syntax tree. `streamed`: its graphs' statements, already built
 * while parsing (their syntax trees emptied); absent, they are built from the tree.
 */
export function buildModule(cst: CstNode, ctx: BuildContext, streamed?: StreamedStatements): Module {
  const header = readHeader(nodesOf(cst, "header"));
  const graphs = nodesOf(cst, "graph").map((g, i) => buildGraph(g, ctx, streamed?.bodies[i]));
  return { name: sigilName(tokenOf(cst, "AtName")), ...header, graphs };
}

/** What a graph's statements define: its nodes, its constants and their values' types, in statement order. */
interface GraphBody {
  readonly nodes: Node[];
  readonly constants: Map<string, Constant>;
  readonly types: Map<string, TensorType>;
}

/**
 * Graph statements built as the parser reads them (grammar.ts's StatementSink), so
 * that the syntax trees of a large graph are not all held at once. A statement
 * that does not build stops it (`failed`): the caller builds from a whole tree
 * instead, so the error reported is the one a whole build meets first.
 */
export class StreamedStatements {
  readonly bodies: GraphBody[] = [];
  failed = false;

  constructor(private readonly ctx: BuildContext) {}

  startGraph(): void {
    this.bodies.push({ nodes: [], constants: new Map(), types: new Map() });
  }

  take(statement: CstNode): void {
    const body = this.bodies.at(-1);
    if (this.failed || !body) {
      this.failed = true;
      return;
    }
    try {
      buildStatement(statement, body, this.ctx);
    } catch {
      this.failed = true;
      return;
    }
    (statement as { children: CstNode["children"] }).children = {};
  }
}

type Header = Pick<Module, "source" | "irVersion" | "producer" | "opsets">;

const HEADER_KEYS: Readonly<Record<string, { readonly field: "source" | "irVersion" | "producer"; readonly text: boolean }>> = {
  source: { field: "source", text: true },
  ir_version: { field: "irVersion", text: false },
  producer: { field: "producer", text: true },
};

// Missing header lines take empty defaults, so short hand-written tests stay short.
function readHeader(lines: readonly CstNode[]): Header {
  const header = { source: "", irVersion: 0, producer: "" };
  const opsets = new Map<string, number>();
  const seen = new Set<string>();
  for (const line of lines) {
    const domainToken = optionalToken(line, "domain");
    if (domainToken) {
      const domain = unquote(domainToken.image);
      if (opsets.has(domain)) throw errorAt(domainToken, `opset ${quote(domain)} is given twice`);
      opsets.set(domain, Number(tokenOf(line, "version").image));
      continue;
    }
    const key = tokenOf(line, "key");
    const value = tokenOf(line, "value");
    const known = HEADER_KEYS[key.image];
    if (!known) throw errorAt(key, `unknown header '${key.image}' (expected source, ir_version, producer or opset)`);
    if (seen.has(key.image)) throw errorAt(key, `header '${key.image}' is given twice`);
    seen.add(key.image);
    const isText = value.tokenType === StringLit;
    if (isText !== known.text) throw errorAt(value, `header '${key.image}' takes ${known.text ? "a string" : "an integer"}`);
    if (known.field === "irVersion") header.irVersion = Number(value.image);
    else header[known.field] = unquote(value.image);
  }
  return { ...header, opsets: recordOf(opsets) };
}

function buildGraph(cst: CstNode, ctx: BuildContext, streamed?: GraphBody): Graph {
  const types = new Map<string, TensorType>();
  const inputs = nodesOf(cst, "param").map((param) => {
    const name = sigilName(tokenOf(param, "ValueName"));
    types.set(name, buildType(nodeOf(param, "tensorType"), ctx));
    return name;
  });
  let body: GraphBody = { nodes: [], constants: new Map(), types };
  if (streamed) {
    // As if set after the parameters' types, in statement order.
    for (const [name, type] of streamed.types) types.set(name, type);
    body = { ...streamed, types };
  } else {
    for (const statement of nodesOf(cst, "statement")) buildStatement(statement, body, ctx);
  }
  const { nodes, constants } = body;
  const outputs = tokensOf(cst, "outputs").map(sigilName);
  const results = tokensOf(cst, "results");
  const returned = results.map(sigilName);
  if (returned.length !== outputs.length || returned.some((name, i) => name !== outputs[i])) {
    throw errorAt(results[0] ?? tokenOf(cst, "Return"), "return values differ from the outputs in the graph's signature");
  }
  return { name: sigilName(tokenOf(cst, "AtName")), inputs, outputs, constants, nodes, types };
}

function buildStatement(statement: CstNode, graph: GraphBody, ctx: BuildContext): void {
  const body = optionalNode(statement, "nodeBody");
  if (body) graph.nodes.push(buildNode(statement, body, graph.types, ctx));
  else buildConstant(statement, graph.types, graph.constants, ctx);
}

/** A name from `valueOrNone`: "" for `none`. */
function valueOrNone(node: CstNode): { readonly name: string; readonly token: IToken } {
  const token = tokenOf(node, "ValueOrNone");
  return { name: token.tokenType === None ? "" : sigilName(token), token };
}

function buildConstant(statement: CstNode, types: Map<string, TensorType>, constants: Map<string, Constant>, ctx: BuildContext): void {
  const defines = nodesOf(statement, "defines").map(valueOrNone);
  const target = defines[0]!;
  if (defines.length !== 1 || target.name === "") throw errorAt(target.token, "a constant defines exactly one named value");
  if (constants.has(target.name)) throw errorAt(target.token, `constant ${valueName(target.name)} is defined twice`);
  const typeNode = nodeOf(statement, "tensorType");
  const type = buildType(typeNode, ctx);
  const dims = staticDims(type, typeNode);
  const body = nodeOf(statement, "constantBody");
  const dense = optionalToken(body, "Dense");
  if (dense) {
    const tensor = readDense(type.dtype, dims, nodeOf(body, "denseValues"), dense, formatType(type));
    constants.set(target.name, { kind: "literal", tensor });
  } else {
    const ref = {
      file: unquote(tokenOf(body, "file").image),
      offset: byteCount(tokenOf(body, "offset")),
      length: byteCount(tokenOf(body, "length")),
    };
    constants.set(target.name, { kind: "weight", ref, dims, dtype: type.dtype });
  }
  types.set(target.name, type);
}

function byteCount(token: IToken): number {
  const value = Number(token.image);
  if (!Number.isSafeInteger(value) || value < 0) throw errorAt(token, `expected a byte count but found '${token.image}'`);
  return value;
}

function buildNode(statement: CstNode, body: CstNode, types: Map<string, TensorType>, ctx: BuildContext): Node {
  const outputs = nodesOf(statement, "defines").map(valueOrNone);
  const opName = nodeOf(body, "opName");
  const domainToken = optionalToken(opName, "domain");
  const domain = domainToken ? unquote(domainToken.image) : "";
  const op = unquote(tokenOf(opName, "op").image);
  const attrs: Record<string, Attr> = {};
  const dict = optionalNode(body, "attrDict");
  for (const attr of dict ? nodesOf(dict, "attr") : []) {
    const nameToken = tokenOf(attr, "name");
    const name = unquote(nameToken.image);
    if (Object.hasOwn(attrs, name)) throw errorAt(nameToken, `attribute '${name}' is given twice`);
    const tensorFrom = (literal: CstNode): Tensor => tensorAttr(literal, ctx);
    attrs[name] = readAttrValue(attr, tensorFrom, () => ctx.emptyListType(domain, op, name));
  }
  const typeNodes = nodesOf(body, "types");
  const named = outputs.filter((o) => o.name !== "");
  if (typeNodes.length > 0 && typeNodes.length !== named.length) {
    throw errorAt(tokenOf(body, "Colon"), `${typeNodes.length} types given for ${named.length} outputs`);
  }
  typeNodes.forEach((t, i) => types.set(named[i]!.name, buildType(t, ctx)));
  const loc = optionalToken(body, "loc");
  return {
    op,
    domain,
    inputs: nodesOf(body, "inputs").map((i) => valueOrNone(i).name),
    outputs: outputs.map((o) => o.name),
    attrs,
    name: loc ? unquote(loc.image) : "",
  };
}

function tensorAttr(literal: CstNode, ctx: BuildContext): Tensor {
  const typeNode = nodeOf(literal, "tensorType");
  const type = buildType(typeNode, ctx);
  const dims = staticDims(type, typeNode);
  return readDense(type.dtype, dims, nodeOf(literal, "denseValues"), tokenOf(literal, "Dense"), formatType(type));
}

function buildType(cst: CstNode, ctx: BuildContext): TensorType {
  const dtypeToken = tokenOf(cst, "dtype");
  const dtype = dtypeToken.image;
  if (!isDType(dtype) || dtype === "str") throw errorAt(dtypeToken, `unknown dtype '${dtype}'`);
  if (optionalToken(cst, "unknownRank")) return { dtype, shape: null };
  return { dtype, shape: nodesOf(cst, "dim").map((d) => buildDim(d, ctx)) };
}

// The dim's own source text goes to symbolic.ts, which owns the expression syntax.
function buildDim(cst: CstNode, ctx: BuildContext): Dim {
  const first = tokenOf(cst, "first");
  const last = tokensOf(cst, "rest").at(-1);
  // A lone integer or symbol is already canonical: the common case skips symbolic.ts.
  if (!last && first.tokenType === Integer && Number.isSafeInteger(Number(first.image))) {
    return checkedDim(Number(first.image), first);
  }
  if (!last && first.tokenType === Identifier) return first.image;
  const text = ctx.text.slice(first.startOffset, endOffsetOf(last ?? first) + 1);
  return checkedDim(pinnedTo(first, () => parseDim(text)), first);
}

function checkedDim(dim: Dim, first: IToken): Dim {
  if (typeof dim === "number" && dim < 0) throw errorAt(first, `dimension ${dim} is negative`);
  return dim;
}

function staticDims(type: TensorType, cst: CstNode): number[] {
  const dims = type.shape ?? [];
  if (type.shape === null || dims.some((d) => typeof d !== "number")) {
    throw errorAt(tokenOf(cst, "dtype"), "a constant needs a shape of integers");
  }
  return dims as number[];
}
