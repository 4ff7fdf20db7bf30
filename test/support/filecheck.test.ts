// The FileCheck subset and the lit file parts beside it: every directive is shown to
// pass where it should and, as much, to fail where it should, with a message that names
// the check, its line and the input where the search started.

import { describe, expect, it } from "vitest";
import { fileCheck, parseDirectives } from "./filecheck.js";
import { checkDiagnostics, parseExpectedErrors, splitCases } from "./lit-cases.js";

const out = ["alpha one", "beta two", "gamma three", "delta"].join("\n");
const checks = (...lines: string[]) => lines.map((l) => `// ${l}`).join("\n");

/** A failing check's message; fails the test when the check passes. */
function failure(input: string, checkText: string): string {
  const message = fileCheck(input, checkText);
  expect(message, "this check must fail").not.toBeNull();
  return message!;
}

describe("CHECK, CHECK-NEXT, CHECK-SAME, CHECK-COUNT", () => {
  it("accepts matches in order, on the next line, on the same line", () => {
    expect(fileCheck(out, checks("CHECK: alpha", "CHECK-NEXT: beta", "CHECK-SAME: two", "CHECK: delta"))).toBeNull();
    expect(fileCheck("x\nx\nx", checks("CHECK-COUNT-3: x"))).toBeNull();
  });
  it("continues on the same line after a match", () => {
    expect(fileCheck("a = b + c", checks("CHECK: a", "CHECK: b", "CHECK: c"))).toBeNull();
    failure("a = c + b", checks("CHECK: b", "CHECK: c"));
  });
  it("fails what is missing or out of order, naming the check, its line and where the search started", () => {
    expect(failure(out, "\n// CHECK: omega")).toMatch(/^check file line 2: CHECK: omega\n {2}not found\n {2}input from line 1, column 1/);
    const message = failure(out, checks("CHECK: gamma", "CHECK: alpha"));
    expect(message).toContain("check file line 2: CHECK: alpha");
    expect(message).toContain("input from line 3, column 6");
    expect(message).toContain("> 3 | gamma three");
    expect(failure("x\nx", checks("CHECK-COUNT-3: x"))).toContain("not found");
  });
  it("CHECK-NEXT fails on any line but the next, saying where the text is", () => {
    const message = failure(out, checks("CHECK: alpha", "CHECK-NEXT: gamma"));
    expect(message).toContain("CHECK-NEXT: gamma");
    expect(message).toContain("not on input line 2, the line after the previous match; it occurs on input line 3");
    expect(message).toContain("> 2 | beta two");
    failure(out, checks("CHECK: alpha", "CHECK-NEXT: alpha"));
    failure(out, checks("CHECK: delta", "CHECK-NEXT: alpha"));
  });
  it("CHECK-SAME fails on another line, or before the previous match on its line", () => {
    expect(failure(out, checks("CHECK: beta", "CHECK-SAME: three"))).toContain("not on input line 2 after the previous match; it occurs on input line 3");
    failure(out, checks("CHECK: two", "CHECK-SAME: beta"));
  });
  it("refuses CHECK-NEXT and CHECK-SAME with no match before them", () => {
    expect(failure(out, checks("CHECK-NEXT: alpha"))).toMatch(/line 1: CHECK-NEXT needs a CHECK/);
    expect(failure(out, checks("CHECK-SAME: alpha"))).toMatch(/line 1: CHECK-SAME needs a CHECK/);
  });
});

describe("CHECK-NOT", () => {
  it("holds between the surrounding matches only", () => {
    expect(fileCheck(out, checks("CHECK: beta", "CHECK-NOT: alpha", "CHECK: delta"))).toBeNull();
    expect(fileCheck(out, checks("CHECK-NOT: zeta", "CHECK: alpha"))).toBeNull();
    expect(fileCheck(out, checks("CHECK: gamma", "CHECK-NOT: beta"))).toBeNull();
  });
  it("fails when the text is there, naming the input line", () => {
    const message = failure(out, checks("CHECK: alpha", "CHECK-NOT: beta", "CHECK: gamma"));
    expect(message).toContain("check file line 2: CHECK-NOT: beta");
    expect(message).toContain("found on input line 2, column 1: beta two");
    failure(out, checks("CHECK-NOT: alpha", "CHECK: beta"));
    failure(out, checks("CHECK: beta", "CHECK-NOT: delta"));
  });
  it("covers the rest of the previous match's line and the start of the next one's", () => {
    failure(out, checks("CHECK: alpha", "CHECK-NOT: one", "CHECK: delta"));
    failure(out, checks("CHECK: alpha", "CHECK-NOT: gam", "CHECK: three"));
    expect(fileCheck(out, checks("CHECK: one", "CHECK-NOT: alpha", "CHECK: beta"))).toBeNull();
  });
});

describe("CHECK-DAG", () => {
  const input = ["start", "%b = B", "%a = A", "%c = C", "end"].join("\n");
  it("matches a group in any order between the surrounding checks", () => {
    expect(fileCheck(input, checks("CHECK: start", "CHECK-DAG: %a = A", "CHECK-DAG: %b = B", "CHECK-DAG: %c = C", "CHECK: end"))).toBeNull();
    expect(fileCheck(input, checks("CHECK-DAG: %c", "CHECK-DAG: %a", "CHECK-NEXT: end"))).toMatch(/CHECK-NEXT needs a CHECK/);
  });
  it("fails a DAG check that is absent, or only before the previous match", () => {
    expect(failure(input, checks("CHECK: %a", "CHECK-DAG: %c", "CHECK-DAG: %b"))).toContain("check file line 3: CHECK-DAG: %b\n  not found");
    failure(input, checks("CHECK-DAG: %a", "CHECK-DAG: %z"));
  });
  it("never lets two checks of a group take the same text", () => {
    expect(fileCheck("x = 1\nx = 1", checks("CHECK-DAG: x = 1", "CHECK-DAG: x = 1"))).toBeNull();
    expect(failure("x = 1", checks("CHECK-DAG: x = 1", "CHECK-DAG: x = 1"))).toContain("without overlapping another CHECK-DAG match of its group");
    failure("abc", checks("CHECK-DAG: ab", "CHECK-DAG: bc"));
  });
  it("starts the next check after the group's last match", () => {
    failure(input, checks("CHECK-DAG: %a", "CHECK-DAG: %c", "CHECK: %b"));
    expect(fileCheck(input, checks("CHECK-DAG: %a", "CHECK-DAG: %b", "CHECK: %c"))).toBeNull();
  });
  it("takes CHECK-NOT before a group up to the group's first match", () => {
    expect(fileCheck(input, checks("CHECK: start", "CHECK-NOT: %c", "CHECK-DAG: %a", "CHECK-DAG: %b"))).toBeNull();
    failure(input, checks("CHECK: start", "CHECK-NOT: %b", "CHECK-DAG: %a", "CHECK-DAG: %c"));
  });
});

describe("CHECK-LABEL", () => {
  const input = ["graph @f {", "  %x = Relu", "}", "graph @g {", "  %y = Exp", "  %x = Relu", "}"].join("\n");
  it("splits the input into blocks and keeps each check inside its block", () => {
    expect(fileCheck(input, checks("CHECK-LABEL: graph @f", "CHECK: Relu", "CHECK-LABEL: graph @g", "CHECK: Exp", "CHECK: Relu"))).toBeNull();
    // Exp is in @g's block only: a check under @f's label may not find it there.
    expect(failure(input, checks("CHECK-LABEL: graph @f", "CHECK: Exp", "CHECK-LABEL: graph @g"))).toContain("check file line 2: CHECK: Exp");
    // Without labels the same check passes, reaching into the next graph.
    expect(fileCheck(input, checks("CHECK: graph @f", "CHECK: Exp"))).toBeNull();
  });
  it("keeps CHECK-NOT inside its block", () => {
    expect(fileCheck(input, checks("CHECK-LABEL: graph @f", "CHECK-NOT: Exp", "CHECK-LABEL: graph @g"))).toBeNull();
    failure(input, checks("CHECK-LABEL: graph @g", "CHECK-NOT: Relu"));
  });
  it("lets CHECK-NEXT and CHECK-SAME follow the label", () => {
    expect(fileCheck(input, checks("CHECK-LABEL: graph @g", "CHECK-SAME: {", "CHECK-NEXT: %y = Exp"))).toBeNull();
    failure(input, checks("CHECK-LABEL: graph @g", "CHECK-NEXT: %x = Relu"));
  });
  it("fails a label that is missing or out of order", () => {
    expect(failure(input, checks("CHECK-LABEL: graph @h"))).toContain("label not found");
    failure(input, checks("CHECK-LABEL: graph @g", "CHECK-LABEL: graph @f"));
  });
  it("refuses variables in a label", () => {
    expect(failure(input, checks("CHECK-LABEL: graph @[[G:[a-z]]]"))).toContain("CHECK-LABEL cannot use or capture variables");
  });
});

describe("{{regex}} and [[NAME]] variables", () => {
  it("matches inline regexes, including braces inside them", () => {
    expect(fileCheck(out, checks("CHECK: {{g[a-z]+}} three"))).toBeNull();
    expect(fileCheck("id 42", checks("CHECK: id {{[0-9]{2}}}"))).toBeNull();
    failure("id 4", checks("CHECK: id {{[0-9]{2}}}"));
    expect(fileCheck("a.b", checks("CHECK: a.b"))).toBeNull();
    failure("axb", checks("CHECK: a.b"));
  });
  it("reads brackets inside a capture's regex and right after it", () => {
    expect(fileCheck("i64[unk__3] i64[unk__3]", checks("CHECK: i64[[[R:unk__[0-9]+]]] i64[[[R]]]"))).toBeNull();
    failure("i64[unk__3] i64[unk__4]", checks("CHECK: i64[[[R:unk__[0-9]+]]] i64[[[R]]]"));
    expect(fileCheck("ab}", checks("CHECK: {{[a-z]{2}}}}"))).toBeNull();
    failure("ab", checks("CHECK: {{[a-z]{2}}}}"));
    expect(fileCheck("x = [1]", checks("CHECK: x = [[[V:[0-9\\]]+]]]"))).toBeNull();
  });
  it("captures a value and matches its later uses exactly", () => {
    const ir = ["%3 = Relu(%x)", "%4 = Exp(%3)", "return %4"].join("\n");
    expect(fileCheck(ir, checks("CHECK: %[[R:[0-9]+]] = Relu", "CHECK: %[[E:[0-9]+]] = Exp(%[[R]])", "CHECK: return %[[E]]"))).toBeNull();
    const message = failure(ir, checks("CHECK: %[[R:[0-9]+]] = Relu", "CHECK: return %[[R]]"));
    expect(message).toContain("CHECK: return %[[R]]");
    expect(message).toContain("[[R]] = '3'");
  });
  it("a use takes the latest capture", () => {
    const ir = ["def a", "def b", "use a", "use b"].join("\n");
    expect(fileCheck(ir, checks("CHECK: def [[V:[a-z]]]", "CHECK: use [[V]]"))).toBeNull();
    expect(fileCheck(ir, checks("CHECK: def [[V:[a-z]]]", "CHECK: def [[V:[a-z]]]", "CHECK: use [[V]]"))).toBeNull();
    failure(["def a", "def b", "use a"].join("\n"), checks("CHECK: def [[V:[a-z]]]", "CHECK: def [[V:[a-z]]]", "CHECK: use [[V]]"));
  });
  it("a capture and its use may share a pattern", () => {
    expect(fileCheck("Add(%q, %q)", checks("CHECK: Add(%[[A:[a-z]+]], %[[A]])"))).toBeNull();
    failure("Add(%q, %k)", checks("CHECK: Add(%[[A:[a-z]+]], %[[A]])"));
  });
  it("captures from CHECK-DAG and CHECK-SAME are usable after them", () => {
    const ir = ["%w = Weight", "%b = Bias", "%y = Gemm(%w, %b)"].join("\n");
    expect(fileCheck(ir, checks("CHECK-DAG: %[[B:[a-z]]] = Bias", "CHECK-DAG: %[[W:[a-z]]] = Weight", "CHECK: Gemm(%[[W]], %[[B]])"))).toBeNull();
    expect(fileCheck(ir, checks("CHECK: %y =", "CHECK-SAME: (%[[X:[a-z]]],", "CHECK-NOT: %[[X]]"))).toBeNull();
  });
  it("a use with no capture before it is an error naming the variable", () => {
    expect(failure(out, checks("CHECK: [[NOPE]]"))).toContain("variable 'NOPE' is used but never captured before this check");
    expect(failure(out, checks("CHECK-NOT: [[GONE]]", "CHECK: alpha"))).toContain("variable 'GONE'");
    // Order is the check file's: a capture after the use does not count.
    failure("a a", checks("CHECK: [[X]]", "CHECK: [[X:a]]"));
  });
  it("refuses malformed patterns and directives", () => {
    expect(failure(out, checks("CHECK: {{a(}}"))).toContain("invalid regex");
    expect(failure(out, checks("CHECK: {{[a-}}"))).toContain("unclosed");
    expect(failure(out, checks("CHECK: {{oops"))).toContain("unclosed '{{'");
    expect(failure(out, checks("CHECK: [[9X:a]]"))).toContain("not a variable name");
    expect(failure(out, checks("CHECK: [[X:a]] [[X:b]]"))).toContain("captured twice");
    expect(failure(out, checks("CHECK:"))).toContain("empty pattern");
    expect(failure(out, checks("CHECK-NXT: beta"))).toContain("unknown directive 'CHECK-NXT:'");
    expect(failure(out, checks("CHECK beta"))).toContain("unknown directive 'CHECK'");
    expect(fileCheck(out, "nothing")).toBe("no CHECK lines");
  });
  it("names the check file when given one", () => {
    expect(fileCheck(out, "\n\n// CHECK: omega", { checkFile: "t.tfg" })).toMatch(/^t\.tfg:3: CHECK: omega/);
  });
  it("reads CHECK-COUNT as that many checks", () => {
    expect(parseDirectives("// CHECK-COUNT-2: x").map((d) => d.kind)).toEqual(["CHECK", "CHECK"]);
  });
});

describe("// ----- cases", () => {
  it("splits a file into cases that keep the file's line numbers", () => {
    const text = ["a", "// -----", "b", "c", "// -----", "d"].join("\n");
    const cases = splitCases(text);
    expect(cases.map((c) => [c.firstLine, c.lastLine])).toEqual([[1, 1], [3, 4], [6, 6]]);
    expect(cases[1]!.text.split("\n")).toEqual(["", "", "b", "c", "", ""]);
    expect(splitCases("only")).toHaveLength(1);
  });
  it("keeps each case's checks to its own input", () => {
    const [first, second] = splitCases(["// CHECK: a", "// -----", "// CHECK: b"].join("\n"));
    expect(fileCheck("a", first!.text)).toBeNull();
    failure("a", second!.text);
  });
});

describe("expected-error lines", () => {
  it("reads the line a diagnostic must carry: this one, N below or above, or none", () => {
    const text = ["x // expected-error {{on this line}}", "// expected-error@+2 {{two below}}", "", "", "// expected-error@-1 {{above}}", "// expected-error@unlocated {{nowhere}}"].join("\n");
    expect(parseExpectedErrors(text)).toEqual([
      { line: 1, target: 1, message: "on this line" },
      { line: 2, target: 4, message: "two below" },
      { line: 5, target: 4, message: "above" },
      { line: 6, target: null, message: "nowhere" },
    ]);
  });
  it("refuses lines that would check nothing", () => {
    expect(() => parseExpectedErrors("// expected-error bad")).toThrow(/\{\{message\}\}/);
    expect(() => parseExpectedErrors("// expected-error {{}}")).toThrow(/\{\{message\}\}/);
    expect(() => parseExpectedErrors("// expected-error@2 {{x}}")).toThrow(/not @\+N, @-N or @unlocated/);
    expect(() => parseExpectedErrors("// expected-warning {{x}}")).toThrow(/only expected-error/);
  });
  it("holds a case to its errors: each produced at its line, and nothing else", () => {
    const expected = parseExpectedErrors("\n// expected-error@+1 {{is used before}}");
    expect(checkDiagnostics(expected, [{ message: "input 'z' is used before it is defined", line: 3 }])).toBeNull();
    expect(checkDiagnostics(expected, [{ message: "input 'z' is used before it is defined", line: 4 }])).toContain(
      "expected-error (line 2) wants line 3, but this came at line 4",
    );
    expect(checkDiagnostics(expected, [{ message: "input 'z' is used before it is defined" }])).toContain("came at no line");
    expect(checkDiagnostics(expected, [])).toContain("expected-error (line 2) was not produced: 'is used before' at line 3");
    expect(checkDiagnostics(expected, [{ message: "something else", line: 3 }])).toMatch(/was not produced[\s\S]*unexpected error at line 3: something else/);
    expect(checkDiagnostics([], [{ message: "surprise" }])).toBe("unexpected error at no line: surprise");
    const unlocated = parseExpectedErrors("// expected-error@unlocated {{never defined}}");
    expect(checkDiagnostics(unlocated, [{ message: "graph output 'y' is never defined" }])).toBeNull();
    expect(checkDiagnostics(unlocated, [{ message: "graph output 'y' is never defined", line: 1 }])).toContain("wants no line");
  });
});
