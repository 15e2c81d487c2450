// The project's one error measure, for benchmark rows and parity tests alike: the largest deviation
// relative to the largest reference value. Relative to the peak, not elementwise, because outputs
// cross zero and an elementwise ratio there measures nothing.

/** max|a - b| / max|b| (max|a - b| where b is all zeros). `b` is the reference. */
export function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`result has ${a.length} values, the reference ${b.length}`);
  let diff = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return scale === 0 ? diff : diff / scale;
}
