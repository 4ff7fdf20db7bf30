// The graph-level text: print -> parse -> print is the identity, every syntax
// feature survives it, and malformed text fails at the right line:column.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { TierflowError } from "../../ir/diagnostics.js";
import type { DType } from "../../ir/dtype.js";
import type { Attr, Constant, Graph, Module, Node, TensorType } from "../../ir/graph/graph.js";
import { parseModule } from "../../ir/graph/parser.js";
import { printModule } from "../../ir/graph/printer.js";
import type { Tensor } from "../../ir/tensor.js";
import { makeTensor, tensorFromValues } from "../../ir/tensor.js";

function node(op: string, inputs: string[], outputs: string[], extra: Partial<Node> = {}): Node {
  return { op, domain: "", inputs, outputs, attrs: {}, name: "", ...extra };
}

function graph(parts: Partial<Graph> & { types: Map<string, TensorType> }): Graph {
  return { name: "main", inputs: [], outputs: [], constants: new Map(), nodes: [], ...parts };
}

function moduleOf(...graphs: Graph[]): Module {
  return { name: "m", source: "m.onnx", irVersion: 8, producer: "test", opsets: { "": 17 }, graphs };
}

const t = (dtype: DType, shape: TensorType["shape"]): TensorType => ({ dtype, shape });

/** Prints, parses and prints again; the two texts must be the same. */
function roundTrip(module: Module): { text: string; parsed: Module } {
  const text = printModule(module);
  const parsed = parseModule(text);
  expect(printModule(parsed)).toBe(text);
  return { text, parsed };
}

function literal(tensor: Tensor): Constant {
  return { kind: "literal", tensor };
}

function parseError(text: string, file?: string): string {
  try {
    parseModule(text, file === undefined ? {} : { file });
  } catch (err) {
    if (err instanceof TierflowError) return err.format();
    throw err;
  }
  throw new Error("expected a parse error");
}

describe("printer layout", () => {
  it("prints the header, constants, nodes and return as docs/IR-TEXT.md lays them out", () => {
    const module: Module = {
      ...moduleOf(
        graph({
          inputs: ["x"],
          outputs: ["y"],
          constants: new Map([["c", literal(tensorFromValues("f32", [2], [0.5, 2]))]]),
          nodes: [node("Mul", ["x", "c"], ["y"], { name: "/mul", attrs: { b: { type: "int", value: 1 }, a: { type: "string", value: "s" } } })],
          types: new Map([["x", t("f32", ["batch", 2])], ["y", t("f32", ["batch", 2])]]),
        }),
      ),
      opsets: { "com.microsoft": 1, "": 17 },
    };
    expect(printModule(module)).toBe(
      [
        "// tierflow graph IR",
        "module @m {",
        '  source = "m.onnx"',
        "  ir_version = 8",
        '  producer = "test"',
        '  opset "" = 17',
        '  opset "com.microsoft" = 1',
        "",
        "  graph @main(%x: f32[batch, 2]) -> (%y) {",
        "    %c: f32[2] = dense [0.5, 2.0]",
        '    %y = Mul(%x, %c) {a = "s", b = 1} : f32[batch, 2] loc("/mul")',
        "    return %y",
        "  }",
        "}",
        "",
      ].join("\n"),
    );
  });

  it("leaves out the types of a node when one of its outputs has none", () => {
    const g = graph({
      inputs: ["x"],
      outputs: ["a", "b"],
      nodes: [node("Split", ["x"], ["a", "b"])],
      types: new Map([["x", t("f32", [4])], ["a", t("f32", [2])]]),
    });
    const { text } = roundTrip(moduleOf(g));
    expect(text).toContain("    %a, %b = Split(%x)\n");
  });

  it("prints `return` alone for a graph with no outputs", () => {
    const { text } = roundTrip(moduleOf(graph({ types: new Map() })));
    expect(text).toContain("  graph @main() -> () {\n    return\n  }\n");
  });
});

describe("round trips", () => {
  it("keeps weights, inputs, domains, none, multiple outputs, locs and several graphs", () => {
    const main = graph({
      inputs: ["ids", "mask"],
      outputs: ["out", "aux"],
      constants: new Map<string, Constant>([
        ["model.embed.weight", { kind: "weight", ref: { file: "w/data.bin", offset: 1234, length: 131072 }, dims: [512, 64], dtype: "f32" }],
        ["empty", { kind: "weight", ref: { file: "", offset: 0, length: 0 }, dims: [0, 3], dtype: "f16" }],
      ]),
      nodes: [
        node("Gather", ["model.embed.weight", "ids"], ["emb"], { attrs: { axis: { type: "int", value: 0 } }, name: "/model/Gather" }),
        node("Split", ["emb", ""], ["a", "", "b"], { attrs: { axis: { type: "int", value: -1 } } }),
        node("Foo", ["a", "", "b"], ["out"], { domain: "com.example" }),
        node("Bar", ["mask"], ["aux", ""], { domain: "ai.onnx.ml" }),
      ],
      types: new Map([
        ["ids", t("i64", ["batch", "seq"])],
        ["mask", t("bool", null)],
        ["emb", t("f32", ["batch", "seq", 64])],
        ["a", t("f32", ["batch", "seq", 32])],
        ["b", t("f32", ["batch", "seq", 32])],
        ["aux", t("bool", [])],
      ]),
    });
    const second = graph({ name: "body 2", inputs: ["v"], outputs: ["v"], types: new Map([["v", t("u8", [3])]]) });
    const module = { ...moduleOf(main, second), name: "llama-tiny", opsets: { "": 17, "com.example": 1, "ai.onnx.ml": 3 } };
    const { text, parsed } = roundTrip(module);

    expect(text).toContain('%model.embed.weight: f32[512, 64] = weight "w/data.bin" offset 1234 length 131072');
    expect(text).toContain("%a, none, %b = Split(%emb, none) {axis = -1} : f32[batch, seq, 32], f32[batch, seq, 32]");
    expect(text).toContain('%out = "com.example".Foo(%a, none, %b)\n');
    expect(text).toContain('%aux, none = "ai.onnx.ml".Bar(%mask) : bool[]');
    expect(text).toContain('graph @"body 2"(%v: u8[3]) -> (%v)');
    expect(text).toContain('module @"llama-tiny" {');

    const g = parsed.graphs[0]!;
    expect(parsed.graphs.map((x) => x.name)).toEqual(["main", "body 2"]);
    expect(parsed.opsets).toEqual(module.opsets);
    expect(g.constants.get("model.embed.weight")).toEqual(main.constants.get("model.embed.weight"));
    expect(g.nodes).toEqual(main.nodes);
    expect(g.types.get("mask")).toEqual(t("bool", null));
    // Constants get their types too, so every value a node reads is typed.
    expect(g.types.get("model.embed.weight")).toEqual(t("f32", [512, 64]));
  });

  it("keeps dense literals of every dtype exactly", () => {
    const cases: [DType, (number | bigint)[]][] = [
      ["f32", [0.1, 1e-30, 3.4028234663852886e38, NaN, Infinity, -Infinity, -0, 1, 16777216, 1e-45]],
      ["f16", [0.5, -2, 65504]],
      ["bf16", [1.5, -0.25]],
      ["f64", [0.1, 1 / 3, 1e300, -0, NaN, 5e-324, 123456789012345680000]],
      ["i8", [-128, 127]],
      ["i16", [-32768, 32767]],
      ["i32", [-2147483648, 2147483647]],
      ["i64", [9223372036854775807n, -9223372036854775808n, 0n]],
      ["u8", [0, 255]],
      ["u16", [65535]],
      ["u32", [4294967295]],
      ["u64", [18446744073709551615n]],
      ["bool", [1, 0, 1]],
    ];
    const constants = new Map(cases.map(([dtype, values]) => [`c_${dtype}`, literal(tensorFromValues(dtype, [values.length], values))]));
    const { text, parsed } = roundTrip(moduleOf(graph({ constants, types: new Map() })));
    for (const [name, constant] of constants) {
      const back = parsed.graphs[0]!.constants.get(name);
      expect(back?.kind === "literal" && back.tensor).toEqual(constant.kind === "literal" && constant.tensor);
      if (back?.kind === "literal" && constant.kind === "literal") expect(back.tensor.data.constructor).toBe(constant.tensor.data.constructor);
    }
    expect(text).toContain("%c_f32: f32[10] = dense [0.1, 1e-30, 3.4028235e+38, nan, inf, -inf, -0.0, 1.0, 16777216.0, 1e-45]");
    expect(text).toContain("%c_f64: f64[7] = dense [0.1, 0.3333333333333333, 1e+300, -0.0, nan, 5e-324, 123456789012345680000.0]");
    expect(text).toContain("dense [9223372036854775807, -9223372036854775808, 0]");
    expect(text).toContain("%c_u64: u64[1] = dense [18446744073709551615]");
    expect(text).toContain("%c_bool: bool[3] = dense [1, 0, 1]");
  });

  it("keeps scalars, zero-size tensors, unknown ranks and symbolic dims", () => {
    const g = graph({
      inputs: ["x", "y", "z"],
      outputs: ["w"],
      constants: new Map([
        ["scalar", literal(tensorFromValues("f32", [], [0.125]))],
        ["nothing", literal(makeTensor("f32", [0]))],
        ["nothing2", literal(makeTensor("i64", [2, 0, 3]))],
      ]),
      nodes: [node("Concat", ["x", "y"], ["w"])],
      types: new Map([
        ["x", t("f32", ["batch*seq", "2*seq-1", "seq+1", "-a*b+c", 0])],
        ["y", t("f32", [])],
        ["z", t("i32", null)],
        ["w", t("f32", ["none", "nan.x", "s23"])],
      ]),
    });
    const { text } = roundTrip(moduleOf(g));
    expect(text).toContain("graph @main(%x: f32[batch*seq, 2*seq-1, seq+1, -a*b+c, 0], %y: f32[], %z: i32[*]) -> (%w) {");
    expect(text).toContain("%scalar: f32[] = dense [0.125]");
    expect(text).toContain("%nothing: f32[0] = dense []");
    expect(text).toContain("%nothing2: i64[2, 0, 3] = dense []");
    expect(text).toContain("%w = Concat(%x, %y) : f32[none, nan.x, s23]");
  });

  it("quotes names that need it", () => {
    const names = ["with space", 'say "hi"', "ünï©ødé 😀", "", "back\\slash\nnewline", "ends:", "x:0", "a/b-c.d$e"];
    const g = graph({
      name: "",
      inputs: names,
      outputs: names,
      types: new Map(names.map((n) => [n, t("f32", [1])])),
    });
    const { text, parsed } = roundTrip({ ...moduleOf(g), name: "ü" });
    expect(parsed.graphs[0]!.inputs).toEqual(names);
    expect(text).toContain('%"with space": f32[1], %"say \\"hi\\"": f32[1], %"ünï©ødé 😀": f32[1], %"": f32[1]');
    expect(text).toContain('%"ends:": f32[1], %x:0: f32[1], %a/b-c.d$e: f32[1]');
    expect(text).toContain('module @"ü" {');
    expect(text).toContain('graph @""(');
  });

  it("keeps every kind of attribute", () => {
    const attrs: Record<string, Attr> = {
      i: { type: "int", value: -3 },
      big: { type: "int", value: 2 ** 62 },
      f: { type: "float", value: Math.fround(1e-5) },
      whole: { type: "float", value: 2 },
      inf: { type: "float", value: -Infinity },
      s: { type: "string", value: "NOTSET" },
      ints: { type: "ints", value: [1, -2, 3] },
      floats: { type: "floats", value: [Math.fround(0.1), 2.5] },
      strings: { type: "strings", value: ["a", "b c"] },
      empty_ints: { type: "ints", value: [] },
      tensor: { type: "tensor", value: tensorFromValues("i64", [2], [9223372036854775807n, 1n]) },
      scalar_tensor: { type: "tensor", value: tensorFromValues("f32", [], [0.1]) },
      "odd name": { type: "int", value: 1 },
    };
    const g = graph({ outputs: ["y"], nodes: [node("Foo", [], ["y"], { attrs })], types: new Map() });
    const { text, parsed } = roundTrip(moduleOf(g));
    expect(parsed.graphs[0]!.nodes[0]!.attrs).toEqual(attrs);
    expect(text).toContain(
      '%y = Foo() {big = 4611686018427387904, empty_ints = [], f = 0.00001, floats = [0.1, 2.5], i = -3, inf = -inf, ' +
        'ints = [1, -2, 3], "odd name" = 1, s = "NOTSET", scalar_tensor = dense<f32[]> [0.1], strings = ["a", "b c"], ' +
        "tensor = dense<i64[2]> [9223372036854775807, 1], whole = 2.0}",
    );
  });

  it("lets keywords serve as names and quotes ops that are not identifiers", () => {
    const g = graph({
      inputs: ["x"],
      outputs: ["y"],
      nodes: [
        node("dense", ["x"], ["y"], { attrs: { length: { type: "int", value: 3 }, none: { type: "float", value: -Infinity } } }),
        node("My Op", ["y"], ["z"], { domain: "d" }),
        node("Op.2", [], ["w"]),
      ],
      types: new Map([["x", t("f32", ["none", "a-info", "nan"])], ["y", t("f32", [])]]),
    });
    const { text } = roundTrip(moduleOf(g));
    expect(text).toContain("graph @main(%x: f32[none, a-info, nan]) -> (%y) {");
    expect(text).toContain("%y = dense(%x) {length = 3, none = -inf} : f32[]");
    expect(text).toContain('%z = "d"."My Op"(%y)');
    expect(text).toContain('%w = "Op.2"()');
  });

  it("reads float attributes as float32, as ONNX holds them", () => {
    const m = parseModule(`module @m { graph @g() -> () { %y = Foo() {a = 0.1, b = [0.1]} return } }`);
    expect(m.graphs[0]!.nodes[0]!.attrs).toEqual({
      a: { type: "float", value: Math.fround(0.1) },
      b: { type: "floats", value: [Math.fround(0.1)] },
    });
  });

  it("asks for the element type of an empty list", () => {
    const text = `module @m { graph @g() -> () { %y = "d".Foo() {a = [], b = []} return } }`;
    const asked: string[] = [];
    const m = parseModule(text, {
      emptyListType: (domain, op, attr) => {
        asked.push(`${domain}.${op}.${attr}`);
        return attr === "a" ? "floats" : "strings";
      },
    });
    expect(asked).toEqual(["d.Foo.a", "d.Foo.b"]);
    expect(m.graphs[0]!.nodes[0]!.attrs).toEqual({ a: { type: "floats", value: [] }, b: { type: "strings", value: [] } });
    expect(parseModule(text).graphs[0]!.nodes[0]!.attrs["a"]).toEqual({ type: "ints", value: [] });
  });

  it("reads free-form text with comments and canonicalises dims", () => {
    const m = parseModule(`// a comment
      module @m { // another
        opset "" = 13 producer = "p"
        graph @g(%x : f32 [ seq * batch , 1 + seq ]) -> (%y) {
          %y = Relu( %x )   // trailing
          return %y } }`);
    expect(m.producer).toBe("p");
    expect(m.source).toBe("");
    expect(m.graphs[0]!.types.get("x")).toEqual(t("f32", ["batch*seq", "seq+1"]));
    expect(printModule(m)).toContain("graph @g(%x: f32[batch*seq, seq+1]) -> (%y) {\n    %y = Relu(%x)\n");
  });

  it("parses the example in docs/IR-TEXT.md", () => {
    const doc = readFileSync(new URL("../../docs/IR-TEXT.md", import.meta.url), "utf8");
    const example = /```\n([\s\S]*?)```/.exec(doc)![1]!;
    const m = parseModule(example, { file: "IR-TEXT.md" });
    expect(m.name).toBe("llama-tiny");
    expect(m.graphs[0]!.nodes.map((n) => n.op)).toEqual(["Gather", "Split", "Foo"]);
    expect(printModule(parseModule(printModule(m)))).toBe(printModule(m));
  });
});

describe("parse errors", () => {
  const good = [
    "module @m {", // 1
    "  graph @g(%x: f32[n, 4]) -> (%y) {", // 2
    "    %c: f32[2] = dense [0.5, 1.5]", // 3
    "    %y = Add(%x, %c) {axis = 1} : f32[n, 4]", // 4
    "    return %y", // 5
    "  }", // 6
    "}", // 7
  ].join("\n");
  const edit = (line: number, from: string, to: string): string =>
    good.split("\n").map((l, i) => (i + 1 === line ? l.replace(from, to) : l)).join("\n");

  it("accepts the unedited text", () => {
    expect(() => parseModule(good)).not.toThrow();
  });

  it.each([
    ["a missing paren", edit(4, "%c)", "%c"), "m.tfg:4:21: expected ')' but found '{'"],
    ["an unknown dtype", edit(2, "f32[n", "f33[n"), "m.tfg:2:16: unknown dtype 'f33'"],
    ["a bad dim", edit(2, "[n, 4]", "[n+, 4]"), "m.tfg:2:20: incomplete dimension expression: 'n+'"],
    ["a negative dim", edit(2, "[n, 4]", "[n, -4]"), "m.tfg:2:23: dimension -4 is negative"],
    ["a dim after '*'", edit(2, "[n, 4]", "[*n]"), "m.tfg:2:21: expected ']' but found 'n'"],
    ["an unterminated string", edit(4, "Add(", 'Add("oops, '), "m.tfg:4:14: unterminated string"],
    ["too few dense elements", edit(3, "[0.5, 1.5]", "[0.5]"), "m.tfg:3:18: dense literal has 1 elements but f32[2] needs 2"],
    ["an integer in float data", edit(3, "[0.5, 1.5]", "[0.5, 1]"), "m.tfg:3:30: expected a float for f32 but found '1' (write 1.0)"],
    ["an integer out of range", edit(3, "f32[2] = dense [0.5, 1.5]", "u8[2] = dense [1, 256]"), "m.tfg:3:27: 256 is out of range for u8"],
    ["a symbolic constant", edit(3, "f32[2]", "f32[n]"), "m.tfg:3:9: a constant needs a shape of integers"],
    ["a repeated attribute", edit(4, "{axis = 1}", "{axis = 1, axis = 2}"), "m.tfg:4:33: attribute 'axis' is given twice"],
    ["a mixed list", edit(4, "{axis = 1}", "{axis = [1, 2.0]}"), "m.tfg:4:34: list mixes integers and floats"],
    ["too many types", edit(4, ": f32[n, 4]", ": f32[n, 4], f32[4]"), "m.tfg:4:33: 2 types given for 1 outputs"],
    ["a name glued to its type", edit(2, "%x: f32", "%x:f32"),
      "m.tfg:2:18: expected ':' but found '[' ('%x:f32' reads as one name: put a space after the ':')"],
    ["an unknown header", edit(1, "{", "{ version = 3"), "m.tfg:1:13: unknown header 'version' (expected source, ir_version, producer or opset)"],
    ["a constant with two names", edit(3, "%c:", "%c, %d:"), "m.tfg:3:5: a constant defines exactly one named value"],
    ["a stray character", edit(3, "%c", "§c"), "m.tfg:3:5: unexpected character '§'"],
    ["a return that differs", edit(5, "return %y", "return %z"), "m.tfg:5:12: return values differ from the outputs in the graph's signature"],
    ["an early end", good.slice(0, -1), "m.tfg:6:4: expected '}' but found end of input"],
    ["trailing text", `${good}\n}`, "m.tfg:8:1: expected end of input but found '}'"],
  ])("reports %s", (_what, text, message) => {
    expect(parseError(text, "m.tfg")).toBe(message);
  });

  it("reports line:column without a file name", () => {
    expect(parseError(edit(2, "f32[n", "f33[n"))).toBe("2:16: unknown dtype 'f33'");
  });

  it("gives the location as data", () => {
    try {
      parseModule(edit(2, "f32[n", "f33[n"), { file: "a.tfg" });
    } catch (err) {
      expect((err as TierflowError).location).toEqual({ file: "a.tfg", line: 2, column: 16 });
    }
  });
});

describe("speed", () => {
  it("parses a 2,000-node module quickly", () => {
    const n = 2000;
    const nodes = Array.from({ length: n }, (_, i) =>
      node("Add", [i === 0 ? "x" : `v${i - 1}`, "c"], [`v${i}`], { attrs: { alpha: { type: "float", value: 0.5 } }, name: `/layer${i}/add` }),
    );
    const types = new Map([["x", t("f32", ["batch", 64])], ...nodes.map((nd) => [nd.outputs[0]!, t("f32", ["batch", 64])] as const)]);
    const g = graph({
      inputs: ["x"],
      outputs: [`v${n - 1}`],
      constants: new Map([["c", literal(makeTensor("f32", [64]))]]),
      nodes,
      types,
    });
    const text = printModule(moduleOf(g));
    // The first parses pay for JIT compilation, and a shared machine adds noise:
    // the best of a few runs is what the parser itself costs.
    parseModule(text);
    let best = Infinity;
    for (let run = 0; run < 3; run++) {
      const start = performance.now();
      const parsed = parseModule(text);
      best = Math.min(best, performance.now() - start);
      expect(parsed.graphs[0]!.nodes).toHaveLength(n);
    }
    expect(best).toBeLessThan(500);
  });
});
