// The dataflow level's textual form (docs/IR-TEXT.md, "The dataflow and
// placement levels"): printDataflow and parseDataflow, with parse(print(m))
// deep-equal to m and print(parse(print(m))) identical to print(m). The syntax
// is shared with the placement level (ir/lower-text/); the schemas below are the
// one table the printer and the builder both read. References are not resolved
// here: a kernel reading an undefined tensor is the verifier's business.

import type { IToken } from "chevrotain";
import { withLocation } from "../diagnostics.js";
import type { DType } from "../dtype.js";
import { DTYPES } from "../dtype.js";
import { quote, symbolName, valueName } from "../graph/text/format.js";
import { dictOf, formatAttrs, formatDict, formatType, int, listOf, num, oneOf, readAttrs, readDict, statementLine, str } from "../lower-text/attrs.js";
import type { Schema } from "../lower-text/attrs.js";
import type { Statement } from "../lower-text/statements.js";
import { buildOnlyStatement, groupStatements, leaf, readStatements, uniquelyNamed } from "../lower-text/statements.js";
import type { DataflowModule, DfKernel, DfStream, DfTensor, Phase, StreamKind, TensorRole } from "./dataflow.js";
import { STREAM_KINDS } from "./dataflow.js";

// Records keyed by the union make the compiler check that every member is listed.
const ROLES: Readonly<Record<TensorRole, true>> = { input: true, output: true, weight: true, constant: true, activation: true, "kv-cache": true };
const PHASES: Readonly<Record<Phase, true>> = { prefill: true, decode: true };

const dtypeCodec = oneOf("dtype", Object.keys(DTYPES) as DType[]);
export const phaseCodec = oneOf("phase", Object.keys(PHASES) as Phase[]);

const MODULE_ATTRS = { source: str, phase: phaseCodec, dtype: dtypeCodec } satisfies Schema;
const TENSOR_ATTRS = { role: oneOf("role", Object.keys(ROLES) as TensorRole[]), bytes: int } satisfies Schema;
// Short facts first, the long lists of graph nodes last.
const KERNEL_ATTRS = {
  dtype: dtypeCodec, flops: num, streaming: oneOf("streaming", Object.keys(STREAM_KINDS) as StreamKind[]),
  tile: listOf(int), tiles: int, blocks: int, buffer_bytes: num,
  reads: dictOf(num, "tensors"), ops: listOf(str), nodes: listOf(str),
} satisfies Schema;
const STREAM_ATTRS = { tile_bytes: num, tiles: int } satisfies Schema;

const INDENT = "  ";

export function printDataflow(m: DataflowModule): string {
  return [...printDataflowPieces(m)].join("");
}

/** printDataflow's text a line at a time, so a module of many kernels is written without holding all of it. */
export function* printDataflowPieces(m: DataflowModule): Generator<string> {
  yield "// tierflow dataflow IR\n";
  for (const line of dataflowLines(m)) yield `${line}\n`;
}

/** The module as lines without a trailing newline, one at a time; the placement printer indents them. */
export function* dataflowLines(m: DataflowModule): Generator<string> {
  const owner = `dataflow ${symbolName(m.name)}`;
  const attrs = formatAttrs(MODULE_ATTRS, { source: m.source, phase: m.phase, dtype: m.dtype }, owner);
  yield `${statementLine("dataflow", [symbolName(m.name)], attrs)} {`;
  yield* indentedGroups([
    [
      `bindings ${formatDict(int, "names", m.bindings, `${owner} bindings`)}`,
      `inputs (${m.inputs.map(valueName).join(", ")})`,
      `outputs (${m.outputs.map(valueName).join(", ")})`,
    ],
    lazyLines(m.tensors, printTensor),
    lazyLines(m.kernels, printKernel),
    lazyLines(m.streams, printStream),
  ]);
  yield "}";
}

/** A group of lines printed only when iterated, and how many there are. */
export interface LineGroup {
  readonly length: number;
  [Symbol.iterator](): Iterator<string>;
}

/** `items` printed a line each, on demand. */
export function lazyLines<T>(items: readonly T[], print: (item: T) => string): LineGroup {
  return { length: items.length, *[Symbol.iterator]() { for (const item of items) yield print(item); } };
}

/** The non-empty groups' lines, indented, with a blank line between groups. */
export function* indentedGroups(groups: readonly LineGroup[]): Generator<string> {
  let first = true;
  for (const group of groups) {
    if (group.length === 0) continue;
    if (!first) yield "";
    first = false;
    for (const line of group) yield line ? INDENT + line : line;
  }
}

function printTensor(t: DfTensor): string {
  const name = valueName(t.name), owner = () => `tensor ${name}`;
  const head = `${name}: ${formatType(t.dtype, t.shape, owner)}`;
  return statementLine("tensor", [head], formatAttrs(TENSOR_ATTRS, { role: t.role, bytes: t.bytes }, owner));
}

function printKernel(k: DfKernel): string {
  const head = [symbolName(k.name), quote(k.kind), `(${k.inputs.map(valueName).join(", ")})`, "->", `(${k.outputs.map(valueName).join(", ")})`];
  // The lists are only read: printed as they are, not copied.
  const attrs = formatAttrs(KERNEL_ATTRS, {
    dtype: k.dtype, flops: k.flops, streaming: k.streaming, tile: k.tiling.tileShape as number[], tiles: k.tiling.tiles, blocks: k.tiling.blocks, buffer_bytes: k.bufferBytes,
    reads: k.reads, ops: k.ops as string[], nodes: k.nodes as string[],
  }, () => `kernel ${symbolName(k.name)}`);
  return statementLine("kernel", head, attrs);
}

function printStream(s: DfStream): string {
  const head = [valueName(s.tensor), symbolName(s.from), "->", symbolName(s.to)];
  return statementLine("stream", head, formatAttrs(STREAM_ATTRS, { tile_bytes: s.tileBytes, tiles: s.tiles }, () => `stream of ${valueName(s.tensor)}`));
}

export function parseDataflow(text: string, file?: string): DataflowModule {
  return withLocation(file === undefined ? {} : { file }, () => buildOnlyStatement(readStatements(text), "dataflow", buildDataflow));
}

/** A `dataflow` statement as a module; the placement builder reads its embedded one with it. */
export function buildDataflow(statement: Statement): DataflowModule {
  const name = statement.head.symbol("the module's name (@name)").name;
  statement.head.end();
  const owner = `dataflow ${symbolName(name)}`;
  const attrs = readAttrs(MODULE_ATTRS, statement, owner);
  const parts = groupStatements(statement, owner, ["bindings", "inputs", "outputs"], ["tensor", "kernel", "stream"]);
  const bindings = readDict(int, "names", leaf(parts.one("bindings")).attrs);
  const inputs = readNames(parts.one("inputs"), "the module's inputs (%a, ...)");
  const outputs = readNames(parts.one("outputs"), "the module's outputs (%a, ...)");
  const tensors = uniquelyNamed(parts.many("tensor"), buildTensor, "tensor", valueName);
  const kernels = uniquelyNamed(parts.many("kernel"), buildKernel, "kernel", symbolName);
  const streams = parts.many("stream").map(buildStream);
  return { name, source: attrs.source, phase: attrs.phase, bindings, dtype: attrs.dtype, inputs, outputs, tensors, kernels, streams };
}

function readNames(statement: Statement, what: string): string[] {
  const names = statement.head.references(what, "%");
  leaf(statement);
  return names;
}

function buildTensor(statement: Statement): { value: DfTensor; token: IToken } {
  const { name, token } = statement.head.tensor("a tensor name (%name)");
  const { dtype, shape } = statement.head.type("a type (: dtype[dims])");
  leaf(statement);
  const attrs = readAttrs(TENSOR_ATTRS, statement, `tensor ${valueName(name)}`);
  return { value: { name, dtype, shape, bytes: attrs.bytes, role: attrs.role }, token };
}

function buildKernel(statement: Statement): { value: DfKernel; token: IToken } {
  const { head } = statement;
  const { name, token } = head.symbol("a kernel name (@name)");
  const kind = head.string("the kernel's kind (a string)");
  const inputs = head.references("the kernel's inputs (%a, ...)", "%");
  head.arrow();
  const outputs = head.references("the kernel's outputs (%a, ...)", "%");
  leaf(statement);
  const a = readAttrs(KERNEL_ATTRS, statement, `kernel ${symbolName(name)}`);
  const value: DfKernel = {
    name, kind, nodes: a.nodes, ops: a.ops, inputs, outputs, dtype: a.dtype, flops: a.flops, streaming: a.streaming,
    tiling: { tileShape: a.tile, tiles: a.tiles, blocks: a.blocks }, bufferBytes: a.buffer_bytes, reads: a.reads,
  };
  return { value, token };
}

function buildStream(statement: Statement): DfStream {
  const { head } = statement;
  const tensor = head.tensor("the streamed tensor (%name)").name;
  const from = head.symbol("the producing kernel (@name)").name;
  head.arrow();
  const to = head.symbol("the consuming kernel (@name)").name;
  leaf(statement);
  const a = readAttrs(STREAM_ATTRS, statement, `stream of ${valueName(tensor)}`);
  return { tensor, from, to, tileBytes: a.tile_bytes, tiles: a.tiles };
}
