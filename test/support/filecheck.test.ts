import { describe, expect, it } from "vitest";
import { fileCheck } from "./filecheck.js";

const out = ["alpha one", "beta two", "gamma three", "delta"].join("\n");

describe("filecheck", () => {
  it("accepts matching directives", () => {
    expect(fileCheck(out, "// CHECK: alpha\n// CHECK-NEXT: beta\n// CHECK-SAME: two\n// CHECK-NOT: zeta\n// CHECK: delta")).toBeNull();
    expect(fileCheck(out, "// CHECK: {{g[a-z]+}} three")).toBeNull();
    expect(fileCheck("x\nx\nx", "// CHECK-COUNT-3: x")).toBeNull();
  });
  it("rejects what is missing, out of order, or forbidden", () => {
    expect(fileCheck(out, "// CHECK: omega")).toMatch(/not found/);
    expect(fileCheck(out, "// CHECK: gamma\n// CHECK: alpha")).toMatch(/not found/);
    expect(fileCheck(out, "// CHECK: alpha\n// CHECK-NEXT: gamma")).toMatch(/expected line/);
    expect(fileCheck(out, "// CHECK: alpha\n// CHECK-NOT: beta\n// CHECK: gamma")).toMatch(/found on output line 2/);
    expect(fileCheck("x\nx", "// CHECK-COUNT-3: x")).toMatch(/not found/);
    expect(fileCheck(out, "nothing")).toBe("no CHECK lines");
  });
});
