// The copy paths of layout.ts's copyStrided (32-bit words for 4- and 8-byte storage and for
// aligned bool/int8 rows, an unrolled loop for short contiguous rows, set() for long ones, fills
// for repeated sources) against a reference that moves each element's bytes one index at a time.
// Data is random bits, so NaNs with payloads, -0, and int64 beyond 2^53 and negative all occur.

import { describe, expect, it } from "vitest";
import type { DType } from "../../ir/dtype.js";
import type { TensorData } from "../../ir/tensor.js";
import { allocate } from "../../ir/tensor.js";
import { concatKernel, copyStrided, expandKernel, sliceKernel, stridesOf, transposeKernel } from "../../targets/reference/kernels/layout.js";

const DTYPES: DType[] = ["f32", "f64", "i64", "u64", "i32", "u32", "i16", "u16", "i8", "u8", "bool"];

function bytesOf(d: TensorData): Uint8Array {
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** The first byte where two arrays differ (-1: none), cheaper to check than toEqual on large arrays. */
function firstDifference(a: TensorData, b: TensorData): number {
  const x = bytesOf(a), y = bytesOf(b);
  if (x.length !== y.length) return 0;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}

/** Random bits for every byte, seeded; bool gets 0/1 (and sometimes 2, which must move unchanged). */
function randomData(dtype: DType, count: number, seed: number): TensorData {
  const data = allocate(dtype, count);
  let s = seed >>> 0 || 1;
  const bytes = bytesOf(data);
  for (let i = 0; i < bytes.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    bytes[i] = dtype === "bool" ? (s >>> 24) % 3 : s >>> 24;
  }
  return data;
}

/** Element-by-element copy of the bytes, by index arithmetic over dims. */
function referenceCopy(dims: readonly number[], src: TensorData, so: number, ss: readonly number[],
  dst: TensorData, dOff: number, ds: readonly number[]): void {
  const count = dims.reduce((p, d) => p * d, 1), e = src.BYTES_PER_ELEMENT, sb = bytesOf(src), db = bytesOf(dst);
  for (let flat = 0; flat < count; flat++) {
    let rem = flat, si = so, di = dOff;
    for (let a = dims.length - 1; a >= 0; a--) {
      const c = rem % dims[a]!;
      rem = (rem - c) / dims[a]!;
      si += c * ss[a]!;
      di += c * ds[a]!;
    }
    for (let k = 0; k < e; k++) db[di * e + k] = sb[si * e + k]!;
  }
}

/** Copy cases: dims, source length, offset and strides, destination length, offset and strides. */
interface Case { name: string; dims: number[]; srcLen: number; so: number; ss: number[]; dstLen: number; dOff: number; ds: number[] }

function cases(): Case[] {
  const out: Case[] = [];
  const contiguous = (name: string, dims: number[], ss: number[], srcLen: number) =>
    out.push({ name, dims, srcLen, so: 0, ss, dstLen: dims.reduce((p, d) => p * d, 1), dOff: 0, ds: stridesOf(dims) });
  // Transposes with inner runs of 1, 3, 8, 16, 130 and 200 elements.
  for (const [b, s, h, d] of [[2, 5, 4, 16], [3, 7, 2, 8], [2, 3, 2, 3], [1, 2, 3, 130], [2, 3, 1, 200], [2, 9, 3, 1]] as const) {
    const inS = stridesOf([b, s, h, d]);
    contiguous(`transpose [${b},${s},${h},${d}] 0213`, [b, h, s, d], [inS[0]!, inS[2]!, inS[1]!, inS[3]!], b * s * h * d);
    contiguous(`transpose [${b},${s},${h},${d}] 0312`, [b, d, s, h], [inS[0]!, inS[3]!, inS[1]!, inS[2]!], b * s * h * d);
  }
  // Slices (offsets, steps of 2 and -1) and broadcasts (stride 0), rows of 4 to 257.
  for (const n of [4, 7, 8, 12, 64, 128, 257]) {
    contiguous(`slice of rows of ${n}`, [3, 5, n], [4 * (n + 5), n + 5, 1], 3 * 4 * (n + 5) + 2 * n);
    out.push({ name: `offset slice ${n}`, dims: [3, n], srcLen: 3 * (n + 9), so: 5, ss: [n + 9, 1], dstLen: 3 * (n + 2) + 3, dOff: 3, ds: [n + 2, 1] });
    contiguous(`step 2 ${n}`, [2, n], [2 * n, 2], 4 * n);
    contiguous(`reversed ${n}`, [2, n], [n, -1], 2 * n + 1);
    out[out.length - 1]!.so = n - 1;
    contiguous(`expand rows ${n}`, [4, 3, n], [0, n, 1], 3 * n);
    contiguous(`expand columns ${n}`, [3, n, 2], [2, 0, 1], 6);
    contiguous(`expand scalar ${n}`, [2, n], [0, 0], 1);
    // Concat: rows of n into rows of 2n, at either half.
    out.push({ name: `concat left ${n}`, dims: [5, n], srcLen: 5 * n, so: 0, ss: [n, 1], dstLen: 10 * n, dOff: 0, ds: [2 * n, 1] });
    out.push({ name: `concat right ${n}`, dims: [5, n], srcLen: 5 * n, so: 0, ss: [n, 1], dstLen: 10 * n, dOff: n, ds: [2 * n, 1] });
    // Strided destination (a transposed write).
    out.push({ name: `scatter columns ${n}`, dims: [3, n], srcLen: 3 * n, so: 0, ss: [n, 1], dstLen: 3 * n, dOff: 0, ds: [1, 3] });
  }
  out.push({ name: "empty", dims: [3, 0, 4], srcLen: 0, so: 0, ss: [0, 4, 1], dstLen: 0, dOff: 0, ds: [0, 4, 1] });
  return out;
}

describe("copyStrided", () => {
  for (const dtype of DTYPES) {
    it(`moves ${dtype} elements bit for bit`, () => {
      let seed = 1;
      for (const c of cases()) {
        const src = randomData(dtype, c.srcLen, seed++);
        const want = randomData(dtype, c.dstLen, seed), got = randomData(dtype, c.dstLen, seed++);
        referenceCopy(c.dims, src, c.so, c.ss, want, c.dOff, c.ds);
        copyStrided(c.dims, src, c.so, c.ss, got, c.dOff, c.ds);
        expect(firstDifference(got, want), `${dtype} ${c.name}`).toBe(-1);
      }
    });
  }

  it("copies views that start inside their buffer (byteOffset not a multiple of 4)", () => {
    const buffer = new ArrayBuffer(1030);
    const src = new Uint8Array(buffer, 1, 512), dst = new Uint8Array(buffer, 514, 512);
    bytesOf(src).forEach((_, i) => (src[i] = (i * 37) & 255));
    const want = new Uint8Array(512);
    referenceCopy([4, 128], src, 0, [128, 1], want, 0, [128, 1]);
    copyStrided([4, 128], src, 0, [128, 1], dst, 0, [128, 1]);
    expect(firstDifference(dst, want)).toBe(-1);
  });
});

describe("layout kernels on the model's shapes", () => {
  const tensor = (dtype: DType, dims: number[], seed: number) => ({ dtype, dims, data: randomData(dtype, dims.reduce((p, d) => p * d, 1), seed) });

  it("Transpose, Concat, Slice and Expand match the reference copy", () => {
    for (const dtype of ["f32", "i64", "bool"] as DType[]) {
      const x = tensor(dtype, [2, 16, 4, 16], 3);
      const t = transposeKernel(x, [0, 2, 1, 3]);
      const want = allocate(dtype, t.data.length), xs = stridesOf(x.dims);
      referenceCopy(t.dims, x.data, 0, [xs[0]!, xs[2]!, xs[1]!, xs[3]!], want, 0, stridesOf(t.dims));
      expect(firstDifference(t.data, want)).toBe(-1);

      const a = tensor(dtype, [2, 4, 16, 8], 4), b = tensor(dtype, [2, 4, 16, 8], 5);
      const cat = concatKernel([a, b], 3), catWant = allocate(dtype, cat.data.length);
      referenceCopy(a.dims, a.data, 0, stridesOf(a.dims), catWant, 0, [1024, 256, 16, 1]);
      referenceCopy(b.dims, b.data, 0, stridesOf(b.dims), catWant, 8, [1024, 256, 16, 1]);
      expect(firstDifference(cat.data, catWant)).toBe(-1);

      const s = sliceKernel(x, { starts: [8], ends: [16], axes: [3], steps: [1] }), sWant = allocate(dtype, s.data.length);
      referenceCopy(s.dims, x.data, 8, xs, sWant, 0, stridesOf(s.dims));
      expect(firstDifference(s.data, sWant)).toBe(-1);

      const m = tensor(dtype, [2, 1, 1, 16], 6), e = expandKernel(m, [2, 1, 16, 16]), eWant = allocate(dtype, e.data.length);
      referenceCopy(e.dims, m.data, 0, [16, 0, 0, 1], eWant, 0, stridesOf(e.dims));
      expect(firstDifference(e.data, eWant)).toBe(-1);
    }
  });
});
