// Newton backward-difference extrapolation: the polynomial of degree m through the last m + 1 anchors,
// evaluated at the target. It is the textbook meaning of "forecast with the first m derivatives" and
// reproduces every polynomial of degree <= m exactly; the analyzer uses it as the yardstick the fixed
// formulas are compared against (no predictor in ditto samples with it).
//
// Two independent routes to the same weights, which the analyzer checks against each other:
//  - Newton's form with divided differences,  p(x) = sum_i f[s_0..s_i] prod_{j<i} (x - s_j);
//  - Lagrange's form,  w_i = prod_{j != i} (x - s_j) / (s_i - s_j).
// With even gaps N and target s_0 + rN both reduce to backward differences with rising factorials,
//   p = sum_i  r(r+1)...(r+i-1)/i!  del^i F(s_0)        (k = N: weights (2,-1), (3,-3,1), (4,-6,4,-1)).

import { axpy, difference, unit, type Combination, type Field } from '../field.js';

/** Anchors MOST RECENT FIRST; uses the first m + 1 of them. */
function lastAnchors(anchors: readonly number[], order: number): number[] {
  if (anchors.length < order + 1) throw new RangeError(`Newton order ${order} needs ${order + 1} anchors, got ${anchors.length}`);
  return anchors.slice(0, order + 1);
}

/** Newton's divided-difference form; anchors most recent first (the first order + 1 are used). */
export function newtonWeights<T>(f: Field<T>, anchors: readonly number[], target: number, order: number): Combination<T> {
  const s = lastAnchors(anchors, order);
  // table[i] = f[s_j .. s_{j+i}] for the current level, as combinations of outputs.
  let level: Combination<T>[] = s.map((step) => unit(f, step));
  let out: Combination<T> = new Map();
  let basis = f.fromInt(1); // prod_{j<i} (target - s_j)
  for (let i = 0; i <= order; i++) {
    out = axpy(f, out, basis, level[0]!);
    basis = f.mul(basis, f.fromInt(target - s[i]!));
    // next level: f[s_j..s_{j+i+1}] = (f[s_j..s_{j+i}] - f[s_{j+1}..s_{j+i+1}]) / (s_j - s_{j+i+1})
    level = level.slice(0, -1).map((c, j) => difference(f, c, level[j + 1]!, f.fromInt(s[j]! - s[j + i + 1]!)));
  }
  return out;
}

/** Lagrange's form of the same interpolating polynomial; anchors as for newtonWeights. */
export function lagrangeWeights<T>(f: Field<T>, anchors: readonly number[], target: number, order: number): Combination<T> {
  const s = lastAnchors(anchors, order);
  const out: Combination<T> = new Map();
  s.forEach((si, i) => {
    let w = f.fromInt(1);
    s.forEach((sj, j) => {
      if (j !== i) w = f.mul(w, f.div(f.fromInt(target - sj), f.fromInt(si - sj)));
    });
    out.set(si, w);
  });
  return out;
}
