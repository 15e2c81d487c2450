// The difference expansions the forecasting formulas must equal: closed forms written straight from
// the math, independent of the code that samples (taylorseer.ts, foca.ts) and of newton.ts.
//
// With even gaps N, target k = rN steps after the last anchor s_0 and backward differences
// del^i F(s_0) = sum_j (-1)^j C(i,j) F(s_0 - jN):
//
//   TaylorSeer (order m):  sum_i del^i F r^i / i!                 alpha_j(r) = (-1)^j sum_{i>=j} C(i,j) r^i / i!
//   Newton (order m):      sum_i del^i F r(r+1)..(r+i-1) / i!      (rising factorials)
//   FoCa:                  F + r del F + r(1+r) / (2(1+2r)) del^2 F
//
// so the three differ only in the factor on each difference: r^i/i! (a Taylor series in a step whose
// derivatives were estimated by one-sided differences), the rising factorial (the interpolating
// polynomial), and BDF2's rational function. With uneven gaps TaylorSeer's D_i is a table of
// differences that divides by the latest gap at each level (taylorSeerTable below).

import { axpy, difference, factorial, power, unit, type Combination, type Field } from '../field.js';

function binomial<T>(f: Field<T>, n: number, k: number): T {
  return f.div(factorial(f, n), f.mul(factorial(f, k), factorial(f, n - k)));
}

function rising<T>(f: Field<T>, r: T, i: number): T {
  let acc = f.fromInt(1);
  for (let q = 0; q < i; q++) acc = f.mul(acc, f.add(r, f.fromInt(q)));
  return acc;
}

/** Weights on F(s_0 - jN), j = 0..m, from the coefficients c_i on del^i F. */
function fromDifferences<T>(f: Field<T>, c: readonly T[]): T[] {
  const m = c.length - 1;
  return Array.from({ length: m + 1 }, (_, j) => {
    let s = f.fromInt(0);
    for (let i = j; i <= m; i++) s = f.add(s, f.mul(binomial(f, i, j), c[i]!));
    return j % 2 === 0 ? s : f.sub(f.fromInt(0), s);
  });
}

/** TaylorSeer's alpha_j(r), j = 0..m (docs/method.md#taylorseer). */
export function taylorSeerEven<T>(f: Field<T>, order: number, r: T): T[] {
  return fromDifferences(f, Array.from({ length: order + 1 }, (_, i) => f.div(power(f, r, i), factorial(f, i))));
}

export function newtonEven<T>(f: Field<T>, order: number, r: T): T[] {
  return fromDifferences(f, Array.from({ length: order + 1 }, (_, i) => f.div(rising(f, r, i), factorial(f, i))));
}

export function focaEven<T>(f: Field<T>, r: T): T[] {
  const one = f.fromInt(1), two = f.fromInt(2);
  const c2 = f.div(f.mul(r, f.add(one, r)), f.mul(two, f.add(one, f.mul(two, r))));
  return fromDifferences(f, [one, r, c2]);
}

/**
 * TaylorSeer's forecast as a difference table over the anchors (MOST RECENT FIRST):
 * D[0][j] = F(s_j), D[i][j] = (D[i-1][j] - D[i-1][j+1]) / (s_j - s_{j+1}); forecast sum_i D[i][0] k^i/i!.
 * The official code builds the same numbers one full step at a time; here they are read off the
 * anchor list at once. Valid when every anchor but the oldest is at step >= 2 (earlier steps form
 * no derivatives in the official code).
 */
export function taylorSeerTable<T>(f: Field<T>, anchors: readonly number[], target: number, order: number): Combination<T> {
  const m = Math.min(order, anchors.length - 1);
  let level: Combination<T>[] = anchors.slice(0, m + 1).map((s) => unit(f, s));
  const k = f.fromInt(target - anchors[0]!);
  let out: Combination<T> = new Map();
  for (let i = 0; i <= m; i++) {
    out = axpy(f, out, f.div(power(f, k, i), factorial(f, i)), level[0]!);
    level = level.slice(0, -1).map((c, j) => difference(f, c, level[j + 1]!, f.fromInt(anchors[j]! - anchors[j + 1]!)));
  }
  return out;
}
