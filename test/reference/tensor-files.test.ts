// Tensor files: every dtype round-trips through .npy, .pb and .json (scalars,
// zero-size tensors, NaN and infinities, int64 extremes included), numpy's own
// bytes decode, and malformed files are one-line diagnostics naming the file.

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { DType } from "../../ir/dtype.js";
import { TierflowError } from "../../ir/diagnostics.js";
import type { Tensor } from "../../ir/tensor.js";
import { tensorFromValues } from "../../ir/tensor.js";
import { onnx } from "../../compiler/onnx/proto.js";
import { TENSOR_FORMATS, decodeTensor, readTensorFile, writeTensorFile } from "../../compiler/tensor-files.js";
import { bf16Bits, f16Bits } from "../../ir/tensor-bytes.js";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "tierflow-files-"));
});

const SAMPLES: Record<Exclude<DType, "str">, (number | bigint)[]> = {
  f32: [0, -1.5, 3.25e-20, 1e30, NaN, Infinity, -Infinity, 0.1],
  f64: [0, -1.5, 1e-300, 1e300, NaN, Infinity, -Infinity, 0.1],
  f16: [0, -1.5, 65504, 2 ** -24, NaN, Infinity, -Infinity, 0.099975586],
  bf16: [0, -1.5, 3.3895314e38, 2 ** -126, NaN, Infinity, -Infinity, 0.10009765625],
  i8: [0, -128, 127, 1, -1, 5, 6, 7],
  i16: [0, -32768, 32767, 1, -1, 5, 6, 7],
  i32: [0, -(2 ** 31), 2 ** 31 - 1, 1, -1, 5, 6, 7],
  i64: [0n, -(2n ** 63n), 2n ** 63n - 1n, 2n ** 53n + 1n, -1n, 5n, 6n, 7n],
  u8: [0, 255, 1, 2, 3, 4, 5, 6],
  u16: [0, 65535, 1, 2, 3, 4, 5, 6],
  u32: [0, 2 ** 32 - 1, 1, 2, 3, 4, 5, 6],
  u64: [0n, 2n ** 64n - 1n, 2n ** 53n + 1n, 2n, 3n, 4n, 5n, 6n],
  bool: [0, 1, 1, 0, 1, 0, 0, 1],
  i4: [0, -8, 7, 1, -1, 5, 6, -3],
  u4: [0, 15, 1, 2, 3, 4, 5, 14],
};

const same = (a: Tensor, b: Tensor) => {
  expect(a.dims).toEqual(b.dims);
  expect(Array.from(a.data as ArrayLike<number | bigint>)).toEqual(Array.from(b.data as ArrayLike<number | bigint>));
};

describe("round trips", () => {
  for (const format of TENSOR_FORMATS) {
    for (const [dtype, values] of Object.entries(SAMPLES) as [Exclude<DType, "str">, (number | bigint)[]][]) {
      // numpy has no 4-bit integers: those go through .pb (packed) and .json only.
      if (format === "npy" && (dtype === "i4" || dtype === "u4")) continue;
      it(`${dtype} through .${format}`, () => {
        const cases = [
          tensorFromValues(dtype, [2, 4], values),
          tensorFromValues(dtype, [], values.slice(1, 2)),
          tensorFromValues(dtype, [0, 3], []),
        ];
        cases.forEach((t, i) => {
          const path = join(dir, `${dtype}-${i}.${format}`);
          writeTensorFile(path, t, format, "value");
          const back = readTensorFile(path);
          // numpy has no bfloat16: .npy holds the same values as float32.
          expect(back.dtype).toBe(format === "npy" && dtype === "bf16" ? "f32" : dtype);
          same(back, t);
        });
      });
    }
  }
});

describe("half precision bits", () => {
  it("rounds to nearest even, with subnormals, overflow and NaN", () => {
    expect(f16Bits(1)).toBe(0x3c00);
    expect(f16Bits(65504)).toBe(0x7bff);
    expect(f16Bits(65520)).toBe(0x7c00); // halfway to the next binade rounds to infinity
    expect(f16Bits(2 ** -24)).toBe(0x0001);
    expect(f16Bits(2 ** -25)).toBe(0x0000); // a tie rounds to even (zero)
    expect(f16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie, even stays
    expect(f16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie, odd rounds up
    expect(f16Bits(-0)).toBe(0x8000);
    expect(f16Bits(NaN) & 0x7e00).toBe(0x7e00);
    expect(bf16Bits(1)).toBe(0x3f80);
    expect(bf16Bits(0.48033667)).toBe(0x3ef6); // 0x3ef5eeb0 rounds up; truncation would give 0x3ef5
    expect(bf16Bits(NaN)).toBe(0x7fc0);
  });
});

describe("foreign files", () => {
  const hex = (h: string) => Uint8Array.from(h.match(/../g)!.map((b) => Number.parseInt(b, 16)));
  // np.save(np.array([[1.5, -2, 3], [4, 5, np.inf]], dtype='<f4')) with numpy 2 (a 128-byte header).
  const numpyF32 = "934e554d5059010076007b276465736372273a20273c6634272c2027666f727472616e5f6f72646572273a2046616c73652c2027" +
    "7368617065273a2028322c2033292c207d" + "20".repeat(58) + "0a0000c03f000000c000004040000080400000a0400000807f";

  it("reads numpy's own .npy bytes", () => {
    const t = decodeTensor(hex(numpyF32), "npy");
    expect(t.dtype).toBe("f32");
    expect(t.dims).toEqual([2, 3]);
    expect(Array.from(t.data as Float32Array)).toEqual([1.5, -2, 3, 4, 5, Infinity]);
  });

  it("reads a TensorProto with typed fields instead of raw data", () => {
    const bytes = onnx.TensorProto.encode(onnx.TensorProto.fromObject({ dims: [3], dataType: 7, int64Data: [1, -2, 3] })).finish();
    const t = decodeTensor(bytes, "pb");
    expect(t.dtype).toBe("i64");
    expect(Array.from(t.data as BigInt64Array)).toEqual([1n, -2n, 3n]);
  });

  it("reads JSON as a nested array with the dtype given, or as an object", () => {
    const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
    const nested = decodeTensor(enc([[1, 2], [3, 4]]), "json", { dtype: "i32" });
    expect([nested.dtype, nested.dims, Array.from(nested.data as Int32Array)]).toEqual(["i32", [2, 2], [1, 2, 3, 4]]);
    const flat = decodeTensor(enc({ dtype: "f32", dims: [2], data: ["NaN", 1.5] }), "json");
    expect(Number.isNaN(flat.data[0])).toBe(true);
    const scalar = decodeTensor(enc(true), "json", { dtype: "bool" });
    expect([scalar.dims, scalar.data[0]]).toEqual([[], 1]);
  });
});

describe("malformed files", () => {
  function diagnostic(name: string, content: string | Uint8Array, options = {}): string {
    const path = join(dir, name);
    writeFileSync(path, content);
    try {
      readTensorFile(path, options);
    } catch (err) {
      if (!(err instanceof TierflowError)) throw err;
      const line = err.format();
      expect(line.startsWith(`${path}: `)).toBe(true);
      expect(line).not.toContain("\n");
      return line.slice(path.length + 2);
    }
    throw new Error("expected a diagnostic");
  }
  const npy = (header: string, body: number[] = []) => {
    const text = `${header}`.padEnd(117, " ") + "\n";
    return Uint8Array.from([0x93, ...Array.from("NUMPY", (c) => c.charCodeAt(0)), 1, 0, text.length, 0, ...Array.from(text, (c) => c.charCodeAt(0)), ...body]);
  };

  it("names the problem of each", () => {
    expect(diagnostic("magic.npy", "hello")).toBe("not a .npy file (bad magic)");
    expect(diagnostic("short.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", [0, 0, 0, 0])))
      .toBe(".npy data is 4 bytes, f32[2] needs 8");
    expect(diagnostic("fortran.npy", npy("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", [0, 0, 0, 0])))
      .toMatch(/^Fortran-order \.npy arrays are not supported/);
    expect(diagnostic("big.npy", npy("{'descr': '>i4', 'fortran_order': False, 'shape': (1,), }", [0, 0, 0, 1])))
      .toMatch(/^big-endian \.npy data \('>i4'\) is not supported/);
    expect(diagnostic("complex.npy", npy("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", [0, 0, 0, 0, 0, 0, 0, 0])))
      .toMatch(/^\.npy dtype '<c8' is not supported/);
    expect(diagnostic("header.npy", npy("{'shape': (1,)}"))).toMatch(/^malformed \.npy header/);
    expect(diagnostic("garbage.pb", Uint8Array.from([0xff, 0xff, 0xff, 0xff]))).toMatch(/^not an ONNX TensorProto/);
    expect(diagnostic("string.pb", onnx.TensorProto.encode(onnx.TensorProto.fromObject({ dims: [1], dataType: 8, stringData: [new Uint8Array([104])] })).finish()))
      .toBe("tensor is a string tensor, which tierflow does not support");
    expect(diagnostic("count.pb", onnx.TensorProto.encode(onnx.TensorProto.fromObject({ dims: [3], dataType: 1, floatData: [1] })).finish()))
      .toBe("tensor has 1 values, f32[3] needs 3");
    expect(diagnostic("bad.json", "[1, 2,")).toMatch(/^not valid JSON/);
    expect(diagnostic("ragged.json", "[[1, 2], [3]]", { dtype: "f32" })).toBe("JSON array is ragged: element [1] should be a list of 2");
    expect(diagnostic("range.json", "[1, 300]", { dtype: "u8" })).toBe("JSON element 1 (300) is out of range for u8");
    expect(diagnostic("nodtype.json", "[1, 2]")).toMatch(/^a JSON array needs a known dtype/);
    expect(diagnostic("dims.json", JSON.stringify({ dtype: "f32", dims: [3], data: [1, 2] }))).toBe("JSON data has 2 elements, shape [3] needs 3");
    expect(diagnostic("value.json", JSON.stringify({ dtype: "i32", dims: [1], data: [1.5] }))).toBe("JSON element 0 (1.5) is not a valid i32 value");
    expect(diagnostic("tensor.txt", "1")).toMatch(/^cannot tell the tensor format from the extension '\.txt'/);
  });

  it("a missing file", () => {
    expect(() => readTensorFile(join(dir, "absent.npy"))).toThrow(/cannot read tensor file: it does not exist/);
  });
});
