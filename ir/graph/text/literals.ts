// Meaning of the literal parts of the graph text: numbers, `dense [..]` data and
// attribute values. Integers are checked against their dtype's range from the
// exact token text (BigInt), so int64 extremes read back without rounding.

import type { CstNode, IToken } from "chevrotain";
import type { DType } from "../../dtype.js";
import { isFloat } from "../../dtype.js";
import type { Tensor } from "../../tensor.js";
import { allocate, makeTensor } from "../../tensor.js";
import type { Attr } from "../graph.js";
import { Inf, Integer, Nan } from "./lexer.js";
import { errorAt, nodeOf, nodesOf, optionalNode, optionalToken, tokenOf, unquote } from "./cst.js";

export type NumberLiteral =
  | { readonly kind: "int"; readonly text: string; readonly token: IToken }
  | { readonly kind: "float"; readonly value: number; readonly token: IToken };

function readNumber(node: CstNode): NumberLiteral {
  const minus = optionalToken(node, "Minus");
  if (minus) return { kind: "float", value: -Infinity, token: minus };
  const token = tokenOf(node, "PlainNumber");
  switch (token.tokenType) {
    case Integer: return { kind: "int", text: token.image, token };
    case Nan: return { kind: "float", value: NaN, token };
    case Inf: return { kind: "float", value: Infinity, token };
    default: return { kind: "float", value: Number(token.image), token };
  }
}

const INT_RANGES: Partial<Record<DType, readonly [bigint, bigint]>> = {
  i8: [-(2n ** 7n), 2n ** 7n - 1n],
  i16: [-(2n ** 15n), 2n ** 15n - 1n],
  i32: [-(2n ** 31n), 2n ** 31n - 1n],
  i64: [-(2n ** 63n), 2n ** 63n - 1n],
  u8: [0n, 2n ** 8n - 1n],
  u16: [0n, 2n ** 16n - 1n],
  u32: [0n, 2n ** 32n - 1n],
  u64: [0n, 2n ** 64n - 1n],
  i4: [-8n, 7n],
  u4: [0n, 15n],
  bool: [0n, 1n],
};

/** The exact integer of a literal, checked against the range of `dtype`. */
function integerFor(dtype: DType, literal: NumberLiteral): bigint {
  if (literal.kind !== "int") {
    throw errorAt(literal.token, `expected an integer for ${dtype} but found '${literal.token.image}'`);
  }
  const value = BigInt(literal.text);
  const range = INT_RANGES[dtype];
  if (range && (value < range[0] || value > range[1])) {
    throw errorAt(literal.token, `${literal.text} is out of range for ${dtype}`);
  }
  return value;
}

function floatFor(dtype: DType, literal: NumberLiteral): number {
  if (literal.kind !== "float") {
    throw errorAt(literal.token, `expected a float for ${dtype} but found '${literal.text}' (write ${literal.text}.0)`);
  }
  return literal.value;
}

/**
 * A tensor from a `denseValues` node. `typeText` names the declared type in the
 * message when the element count does not match it.
 */
export function readDense(dtype: DType, dims: readonly number[], values: CstNode, at: IToken, typeText: string): Tensor {
  const literals = nodesOf(values, "number").map(readNumber);
  const expected = dims.reduce((a, b) => a * b, 1);
  if (literals.length !== expected) {
    throw errorAt(at, `dense literal has ${literals.length} elements but ${typeText} needs ${expected}`);
  }
  const data = allocate(dtype, literals.length);
  literals.forEach((literal, i) => {
    if (data instanceof BigInt64Array || data instanceof BigUint64Array) data[i] = integerFor(dtype, literal);
    else if (isFloat(dtype)) data[i] = floatFor(dtype, literal);
    else data[i] = Number(integerFor(dtype, literal));
  });
  return makeTensor(dtype, dims, data);
}

export type ListType = "ints" | "floats" | "strings";

type Scalar = { readonly kind: "string"; readonly value: string; readonly token: IToken } | NumberLiteral;

function readScalar(node: CstNode): Scalar {
  const text = optionalToken(node, "StringLit");
  if (text) return { kind: "string", value: unquote(text.image), token: text };
  return readNumber(nodeOf(node, "number"));
}

// ONNX attributes are int64 and float32: ints are kept as JS numbers (as Attr
// holds them) and floats are rounded to float32 as they will be on export.
function attrInt(literal: NumberLiteral): number {
  return Number(integerFor("i64", literal));
}

function attrFloat(literal: NumberLiteral & { kind: "float" }): number {
  return Math.fround(literal.value);
}

const KIND_WORDS = { int: "integers", float: "floats", string: "strings" } as const;

/**
 * The value of an `attr` node. `tensorFrom` reads a `tensorLiteral` (it needs
 * the type reader); `emptyList` says what an empty `[]` holds.
 */
export function readAttrValue(node: CstNode, tensorFrom: (literal: CstNode) => Tensor, emptyList: () => ListType): Attr {
  const scalarNode = optionalNode(node, "scalar");
  if (scalarNode) {
    const scalar = readScalar(scalarNode);
    if (scalar.kind === "string") return { type: "string", value: scalar.value };
    return scalar.kind === "int" ? { type: "int", value: attrInt(scalar) } : { type: "float", value: attrFloat(scalar) };
  }
  const tensorNode = optionalNode(node, "tensorLiteral");
  if (tensorNode) return { type: "tensor", value: tensorFrom(tensorNode) };

  const elements = nodesOf(nodeOf(node, "list"), "scalar").map(readScalar);
  const first = elements[0];
  if (!first) return { type: emptyList(), value: [] };
  const odd = elements.find((e) => e.kind !== first.kind);
  if (odd) throw errorAt(odd.token, `list mixes ${KIND_WORDS[first.kind]} and ${KIND_WORDS[odd.kind]}`);
  const strings: string[] = [];
  const numbers: number[] = [];
  for (const e of elements) {
    if (e.kind === "string") strings.push(e.value);
    else numbers.push(e.kind === "int" ? attrInt(e) : attrFloat(e));
  }
  if (first.kind === "string") return { type: "strings", value: strings };
  return first.kind === "int" ? { type: "ints", value: numbers } : { type: "floats", value: numbers };
}
