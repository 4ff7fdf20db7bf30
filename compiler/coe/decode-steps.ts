// Decode step time against batch size. A CoE compiles each expert graph's
// decode plan at a few batches (1, 2, 4, ..., the CoE's batch); a batch in
// between costs the straight line between its neighbours. Decode at small
// batch streams the weights once a step whatever the batch, and adds per
// request only its KV reads and compute, so the line is close.

export interface DecodeStep {
  readonly batch: number;
  readonly seconds: number;
}

/** Batches whose decode step is compiled: powers of two below `batch`, and `batch`. */
export function decodeBatches(batch: number): number[] {
  const out: number[] = [];
  for (let b = 1; b < batch; b *= 2) out.push(b);
  return [...out, batch];
}

/** Seconds of a decode step at `batch`, from steps compiled at ascending batches. */
export function decodeStepSeconds(steps: readonly DecodeStep[], batch: number): number {
  const above = steps.findIndex((s) => s.batch >= batch);
  if (above < 0) return steps[steps.length - 1]!.seconds;
  const hi = steps[above]!;
  if (hi.batch === batch || above === 0) return hi.seconds;
  const lo = steps[above - 1]!;
  return lo.seconds + ((hi.seconds - lo.seconds) * (batch - lo.batch)) / (hi.batch - lo.batch);
}
