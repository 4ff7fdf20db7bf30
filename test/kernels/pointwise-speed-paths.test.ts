// The word paths of pointwise.ts against per-element references with broadcasting: And, Or and
// Xor of bool four bytes at a time (bytes other than 0 and 1 included, rows that do not start on a
// word, views into a shared buffer), int64 comparisons on 32-bit words without branches, Where
// choosing 32-bit words with a mask, and unrolled unary loops of every length around the unroll.

import { describe, expect, it } from "vitest";
import type { DType } from "../../ir/dtype.js";
import type { Tensor, TensorData } from "../../ir/tensor.js";
import { allocate, makeTensor } from "../../ir/tensor.js";
import { broadcastDims } from "../../targets/reference/kernels/broadcast.js";
import { binaryOp, nonzeroBytes, unaryOp, whereOp } from "../../targets/reference/kernels/pointwise.js";

function generator(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 8;
}

const size = (dims: readonly number[]) => dims.reduce((p, d) => p * d, 1);

/** Flat index into a tensor of `dims` of output element `flat` (numpy broadcasting to `out`). */
function sourceIndex(dims: readonly number[], out: readonly number[], flat: number): number {
  const skip = out.length - dims.length;
  let src = 0, stride = 1, rem = flat;
  for (let a = out.length - 1; a >= 0; a--) {
    const c = rem % out[a]!;
    rem = (rem - c) / out[a]!;
    const d = a >= skip ? dims[a - skip]! : 1;
    if (d !== 1) src += c * stride;
    stride *= d;
  }
  return src;
}

/** Bool bytes: mostly 0 and 1, with some 2, 128 and 255 (any nonzero byte is true). */
function boolTensor(dims: number[], seed: number, data?: Uint8Array): Tensor {
  const next = generator(seed), d = data ?? new Uint8Array(size(dims));
  for (let i = 0; i < d.length; i++) {
    const r = next() % 16;
    d[i] = r < 7 ? 0 : r < 13 ? 1 : [2, 128, 255][r - 13]!;
  }
  return makeTensor("bool", dims, d);
}

/** Broadcast pairs: same shape, scalars, rows, columns, both sides, rows not a multiple of 4. */
const PAIRS: [number[], number[]][] = [
  [[1, 1, 16, 16], [3, 1, 16, 16]], [[], [2, 8, 8]], [[2, 8, 8], []], [[4, 1, 12, 1], [4, 1, 1, 12]],
  [[5, 8], [8]], [[5, 8], [5, 1]], [[7], [7]], [[3, 5, 6], [3, 1, 6]], [[2, 4, 3], [2, 4, 3]], [[16, 4], [1, 4]], [[0, 4], [4]],
];

describe("bool And, Or and Xor on words", () => {
  const REF: Record<string, (x: number, y: number) => number> = {
    And: (x, y) => (x !== 0 && y !== 0 ? 1 : 0),
    Or: (x, y) => (x !== 0 || y !== 0 ? 1 : 0),
    Xor: (x, y) => ((x !== 0) !== (y !== 0) ? 1 : 0),
  };

  it("nonzeroBytes gives 1 for each nonzero byte", () => {
    for (const w of [0, 0x01010101, 0x02ff0180, 0x80000000, 0x00800001, -1, 0x7f7f7f7f, 0x00010000]) {
      const want = [0, 8, 16, 24].reduce((acc, sh) => acc | (((w >>> sh) & 255) !== 0 ? 1 << sh : 0), 0);
      expect(nonzeroBytes(w)).toBe(want);
    }
  });

  for (const op of ["And", "Or", "Xor"] as const) {
    it(`${op} matches the per-element reference`, () => {
      let seed = 1;
      for (const [da, db] of PAIRS) {
        const a = boolTensor(da, seed++), b = boolTensor(db, seed++);
        const dims = broadcastDims(da, db), got = binaryOp(op, a, b, "bool");
        expect(got.dims).toEqual(dims);
        for (let i = 0; i < size(dims); i++) {
          const want = REF[op]!(a.data[sourceIndex(da, dims, i)] as number, b.data[sourceIndex(db, dims, i)] as number);
          if (got.data[i] !== want) expect(`${op} [${da}] [${db}] element ${i}: ${got.data[i]}`).toBe(`want ${want}`);
        }
      }
    });
  }

  it("reads views that do not start on a word", () => {
    const buffer = new ArrayBuffer(300);
    const a = boolTensor([4, 32], 7, new Uint8Array(buffer, 1, 128)), b = boolTensor([4, 32], 8, new Uint8Array(buffer, 130, 128));
    const got = binaryOp("And", a, b, "bool");
    for (let i = 0; i < 128; i++) expect(got.data[i]).toBe(a.data[i] !== 0 && b.data[i] !== 0 ? 1 : 0);
  });
});

describe("int64 comparisons on words", () => {
  const EXTREMES = [0n, 1n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 32n, 2n ** 32n - 1n, -(2n ** 32n), 2n ** 31n, -(2n ** 31n), 2n ** 53n + 1n, -(2n ** 53n) - 1n];
  function int64Tensor(dims: number[], seed: number): Tensor {
    const next = generator(seed), d = new BigInt64Array(size(dims));
    // Few distinct values, so equal high or low words (and equal values) are common.
    for (let i = 0; i < d.length; i++) d[i] = next() % 3 === 0 ? EXTREMES[next() % EXTREMES.length]! : BigInt(next() % 5 - 2) * 2n ** 32n + BigInt(next() % 3);
    return makeTensor("i64", dims, d);
  }
  const REF: Record<string, (x: bigint, y: bigint) => boolean> = {
    Equal: (x, y) => x === y, Less: (x, y) => x < y, LessOrEqual: (x, y) => x <= y, Greater: (x, y) => x > y, GreaterOrEqual: (x, y) => x >= y,
  };

  const OPS = ["Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual"] as const;

  // A row against a column (output many times the operands): compared as Int32 values when all fit.
  it("row-by-column masks of values within 32 bits, and with one value outside, match BigInt comparison", () => {
    const SMALL = [0n, 1n, -1n, 2n ** 31n - 1n, -(2n ** 31n), 5n, -7n, 100n];
    for (const outside of [undefined, 2n ** 31n, -(2n ** 31n) - 1n, 2n ** 32n, 2n ** 63n - 1n]) {
      const next = generator(5), values = (n: number) => BigInt64Array.from({ length: n }, () => SMALL[next() % SMALL.length]!);
      const a = makeTensor("i64", [2, 1, 24, 1], values(48)), b = makeTensor("i64", [2, 1, 1, 24], values(48));
      if (outside !== undefined) (b.data as BigInt64Array)[17] = outside;
      for (const op of OPS) {
        const dims = [2, 1, 24, 24], got = binaryOp(op, a, b, "bool");
        for (let i = 0; i < size(dims); i++) {
          const x = a.data[sourceIndex(a.dims, dims, i)] as bigint, y = b.data[sourceIndex(b.dims, dims, i)] as bigint;
          const want = REF[op]!(x, y) ? 1 : 0;
          if (got.data[i] !== want) expect(`${op} ${x} ${y}: ${got.data[i]}`).toBe(`want ${want}`);
        }
      }
    }
  });

  for (const op of OPS) {
    it(`${op} matches BigInt comparison`, () => {
      let seed = 11;
      for (const [da, db] of PAIRS) {
        const a = int64Tensor(da, seed++), b = int64Tensor(db, seed++);
        const dims = broadcastDims(da, db), got = binaryOp(op, a, b, "bool");
        for (let i = 0; i < size(dims); i++) {
          const x = a.data[sourceIndex(da, dims, i)] as bigint, y = b.data[sourceIndex(db, dims, i)] as bigint;
          const want = REF[op]!(x, y) ? 1 : 0;
          if (got.data[i] !== want) expect(`${op} ${x} ${y}: ${got.data[i]}`).toBe(`want ${want}`);
        }
      }
    });
  }
});

describe("Where", () => {
  /** Random bits: NaNs with payloads, -0 and infinities occur among float values. */
  function randomTensor(dtype: DType, dims: number[], seed: number): Tensor {
    const data = allocate(dtype, size(dims)), bytes = new Uint8Array(data.buffer), next = generator(seed);
    for (let i = 0; i < bytes.length; i++) bytes[i] = next() & 255;
    return makeTensor(dtype, dims, data);
  }
  const bytesAt = (d: TensorData, i: number) => Array.from(new Uint8Array(d.buffer, d.byteOffset + i * d.BYTES_PER_ELEMENT, d.BYTES_PER_ELEMENT));

  const SHAPES: [number[], number[], number[]][] = [
    [[2, 1, 16, 16], [], []], [[3, 8], [3, 8], []], [[3, 8], [], [3, 8]], [[3, 8], [3, 8], [3, 8]], [[4, 1], [1, 6], [4, 6]],
    [[], [5], [5]], [[2, 7], [1], [7]], [[2, 1, 5, 5], [1], [2, 1, 1, 5]],
  ];
  for (const dtype of ["f32", "i32", "u32", "f64", "i64", "u8"] as DType[]) {
    it(`${dtype} picks each element's bits from x or y`, () => {
      let seed = 21;
      for (const [dc, dx, dy] of SHAPES) {
        const c = boolTensor(dc, seed++), x = randomTensor(dtype, dx, seed++), y = randomTensor(dtype, dy, seed++);
        const dims = broadcastDims(broadcastDims(dc, dx), dy), got = whereOp(c, x, y);
        expect(got.dims).toEqual(dims);
        for (let i = 0; i < size(dims); i++) {
          const pick = c.data[sourceIndex(dc, dims, i)] !== 0;
          const want = pick ? bytesAt(x.data, sourceIndex(dx, dims, i)) : bytesAt(y.data, sourceIndex(dy, dims, i));
          if (bytesAt(got.data, i).join() !== want.join()) expect(`${dtype} [${dc}] element ${i}: ${bytesAt(got.data, i)}`).toBe(`want ${want}`);
        }
      }
    });
  }
});

describe("unrolled unary loops", () => {
  const F32 = [NaN, -NaN, -0, 0, Infinity, -Infinity, 1.5, -2.25, 3e38, -1e-45];
  it("Neg, Abs, Relu, Floor and Not give the element-by-element results for every length", () => {
    const refs: Record<string, (v: number) => number> = {
      Neg: (v) => -v, Abs: Math.abs, Relu: (v) => (v > 0 ? v : v !== v ? v : 0), Floor: Math.floor, Not: (v) => (v ? 0 : 1),
    };
    for (let n = 0; n <= 13; n++) {
      const x = makeTensor("f32", [n], Float32Array.from({ length: n }, (_, i) => F32[(i * 7 + n) % F32.length]!));
      for (const [op, ref] of Object.entries(refs)) {
        const got = unaryOp(op as "Neg", x);
        for (let i = 0; i < n; i++) expect(Object.is(got.data[i], Math.fround(ref(x.data[i] as number))), `${op} n=${n} element ${i}`).toBe(true);
      }
    }
  });

  it("int64 Neg and Abs stay exact", () => {
    const vals = [0n, 1n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 53n + 1n, -(2n ** 40n) - 3n];
    const x = makeTensor("i64", [vals.length], BigInt64Array.from(vals));
    expect(Array.from(unaryOp("Neg", x).data as BigInt64Array)).toEqual(vals.map((v) => BigInt.asIntN(64, -v)));
    expect(Array.from(unaryOp("Abs", x).data as BigInt64Array)).toEqual(vals.map((v) => BigInt.asIntN(64, v < 0n ? -v : v)));
  });
});
