import { describe, expect, it } from "vitest";
import {
  DimSum, addDims, dimSymbols, divDimsExact, evaluateDim, mulDims, parseDim, productOfDims, subDims, substituteDim,
} from "../../ir/symbolic.js";

describe("symbolic dims", () => {
  it("canonicalises expressions so equal dims are equal strings", () => {
    expect(parseDim("seq * batch")).toBe("batch*seq");
    expect(parseDim("batch*seq")).toBe(parseDim("seq*batch"));
    expect(parseDim("1 + seq")).toBe("seq+1");
    expect(parseDim("2*(seq+1) - 2")).toBe("2*seq");
    expect(parseDim("seq - seq")).toBe(0);
    expect(parseDim("42")).toBe(42);
    expect(parseDim("s23")).toBe("s23");
  });
  it("does polynomial arithmetic", () => {
    expect(mulDims("batch", "seq")).toBe("batch*seq");
    expect(mulDims(64, "batch*seq")).toBe("64*batch*seq");
    expect(addDims("seq", "seq")).toBe("2*seq");
    expect(subDims("seq", 1)).toBe("seq-1");
    expect(addDims(subDims("seq", 1), 1)).toBe("seq");
    expect(productOfDims(["batch", 4, "seq", 16])).toBe("64*batch*seq");
    expect(mulDims("seq+1", "seq-1")).toBe("seq*seq-1");
  });
  it("divides exactly or says it cannot", () => {
    expect(divDimsExact("64*batch*seq", 64)).toBe("batch*seq");
    expect(divDimsExact("64*batch*seq", "batch")).toBe("64*seq");
    expect(divDimsExact("64*batch*seq", "4*seq")).toBe("16*batch");
    expect(divDimsExact("seq", 2)).toBeUndefined();
    expect(divDimsExact("seq+1", "seq")).toBeUndefined();
    expect(divDimsExact(12, 5)).toBeUndefined();
    expect(divDimsExact("seq+1", "seq+1")).toBe(1);
  });
  it("evaluates and substitutes", () => {
    const b = new Map([["batch", 2], ["seq", 7]]);
    expect(evaluateDim("64*batch*seq+3", b)).toBe(2 * 7 * 64 + 3);
    expect(evaluateDim("batch*unknown", b)).toBeUndefined();
    expect(substituteDim("batch*seq+seq", new Map([["seq", 10]]))).toBe("10*batch+10");
    expect(dimSymbols("batch*seq+s0")).toEqual(["batch", "s0", "seq"]);
  });
  it("sums many terms", () => {
    const s = new DimSum();
    for (let i = 0; i < 100; i++) s.add("batch*seq").add(3);
    expect(s.value).toBe("100*batch*seq+300");
  });
  it("rejects malformed expressions and overflow", () => {
    expect(() => parseDim("seq +")).toThrow(/incomplete/);
    expect(() => parseDim("(seq")).toThrow(/parentheses/);
    expect(() => parseDim("seq/2")).toThrow(/not a dimension expression/);
    expect(() => mulDims(2 ** 40, 2 ** 40)).toThrow(/overflows/);
    expect(() => mulDims("batch", 2 ** 40)).not.toThrow();
    expect(() => mulDims(mulDims("batch", 2 ** 40), 2 ** 30)).toThrow(/overflows/);
  });
});
