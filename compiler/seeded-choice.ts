// Seeded weighted choice: the Zipf and uniform pickers behind synthetic
// traces and the mapping of a real trace's requests onto a CoE's experts.

/** A picker of an index in [0, n) with weight 1/(k+1)^s (s = 0: uniform), drawing from `rand`. */
export function zipfPicker(n: number, s: number, rand: () => number): () => number {
  const weights = Array.from({ length: n }, (_, k) => 1 / Math.pow(k + 1, s));
  const total = weights.reduce((a, b) => a + b, 0);
  const cumulative: number[] = [];
  weights.reduce((acc, w, i) => (cumulative[i] = acc + w / total), 0);
  return () => {
    const u = rand();
    let lo = 0, hi = n - 1;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (cumulative[mid]! < u) lo = mid + 1; else hi = mid; }
    return lo;
  };
}
