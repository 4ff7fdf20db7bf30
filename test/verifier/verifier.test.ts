// Verifier tests: each IR text must be rejected with a message naming the node.

import { describe, expect, it } from "vitest";
import { parseGraphText } from "../../compiler/parse-text.js";
import { verifyModule } from "../../ir/graph/verifier.js";
import { TierflowError } from "../../ir/diagnostics.js";

const wrap = (body: string, inputs = "%x: f32[2, 3]", outputs = "%y") => `module @m {
  source = "m.tfg"
  ir_version = 8
  producer = "test"
  opset "" = 17

  graph @main(${inputs}) -> (${outputs}) {
${body}
    return ${outputs}
  }
}
`;

function verifyError(text: string): TierflowError {
  try {
    verifyModule(parseGraphText(text, "t.tfg"));
  } catch (err) {
    if (err instanceof TierflowError) return err;
    throw err;
  }
  throw new Error("expected a verifier error");
}

const cases: { name: string; body: string; error: RegExp; node?: string; outputs?: string }[] = [
  { name: "use before definition", body: "    %y = Relu(%z) loc(\"r\")\n    %z = Exp(%x) loc(\"e\")", error: /input 'z' is used before it is defined/, node: "r" },
  { name: "undefined value", body: "    %y = Relu(%nope) loc(\"r\")", error: /input 'nope' is used before/, node: "r" },
  { name: "value defined twice", body: "    %y = Relu(%x) loc(\"a\")\n    %y = Exp(%x) loc(\"b\")", error: /value 'y' is defined more than once/, node: "b" },
  { name: "cycle", body: "    %a = Add(%x, %y) loc(\"a\")\n    %y = Relu(%a) loc(\"b\")", error: /input 'y' is used before/, node: "a" },
  { name: "unknown op", body: "    %y = Frobnicate(%x) loc(\"f\")", error: /unsupported op 'Frobnicate'/, node: "f" },
  { name: "unknown domain", body: "    %y = \"com.example\".Relu(%x) loc(\"f\")", error: /unsupported op 'Relu' in domain 'com.example'/, node: "f" },
  { name: "wrong arity", body: "    %y = Relu(%x, %x) loc(\"r\")", error: /Relu takes 1 inputs, got 2/, node: "r" },
  { name: "unknown attribute", body: "    %y = Relu(%x) {alpha = 1.0} loc(\"r\")", error: /Relu has no attribute 'alpha'/, node: "r" },
  { name: "attribute of the wrong type", body: "    %y = Softmax(%x) {axis = \"last\"} loc(\"s\")", error: /attribute 'axis' of Softmax must be int, got string/, node: "s" },
  { name: "missing required attribute", body: "    %y = Concat(%x, %x) loc(\"c\")", error: /Concat needs attribute 'axis'/, node: "c" },
  { name: "string attribute outside its set", body: "    %y = MaxPool(%x) {auto_pad = \"SIDEWAYS\", kernel_shape = [1]} loc(\"p\")", error: /expected one of NOTSET/, node: "p" },
  { name: "dtype mismatch", body: "    %i: i64[1] = dense [1]\n    %y = Add(%x, %i) loc(\"a\")", error: /input 1 has dtype i64 but input 0 has f32/, node: "a" },
  { name: "recorded type contradicts the op", body: "    %y = Relu(%x) : f32[3, 2] loc(\"r\")", error: /output 'y' is typed f32\[3, 2\] but Relu gives f32\[2, 3\]/, node: "r" },
  { name: "shapes that cannot broadcast", body: "    %z: f32[4] = dense [1.0, 2.0, 3.0, 4.0]\n    %y = Add(%x, %z) loc(\"a\")", error: /cannot be broadcast/, node: "a" },
  { name: "matmul inner dims", body: "    %y = MatMul(%x, %x) loc(\"m\")", error: /MatMul inner dims differ/, node: "m" },
  { name: "axis out of range", body: "    %y = Softmax(%x) {axis = 5} loc(\"s\")", error: /axis 5 is out of range for rank 2/, node: "s" },
  { name: "undefined graph output", body: "    %z = Relu(%x)", error: /graph output 'y' is never defined/ },
];

describe("verifier rejects", () => {
  for (const c of cases) {
    it(c.name, () => {
      const err = verifyError(wrap(c.body, undefined, c.outputs));
      expect(err.message).toMatch(c.error);
      if (c.node) expect(err.location.node).toBe(c.node);
    });
  }
  it("accepts a well-formed graph", () => {
    expect(() => verifyModule(parseGraphText(wrap("    %y = Relu(%x) : f32[2, 3] loc(\"r\")")))).not.toThrow();
  });
});
