// The equivalence, proved in exact arithmetic: the fixed forecasting formulas are linear predictors
// with fixed weights, and which weights.
//
// For orders m = 1..8, on even anchors (gap 4) and on uneven ones (the paper's N=5 schedule), and for
// every target up to the next anchor, it derives TaylorSeer's weights by running the predictor's own
// recursion over BigInt fractions, and Newton's, then checks:
//   - each equals its difference expansion (expansions.ts; for even gaps docs/method.md's alpha_j(r));
//   - the weights sum to 1 (a constant output is forecast exactly);
//   - Newton reproduces every polynomial of degree <= m exactly; TaylorSeer only degree <= 1;
//   - TaylorSeer and Newton agree only at m = 1;
// and FoCa's BDF2 weights: (7/3, -5/3, 1/3) on even gaps one gap ahead, their expansion, sum 1, lines.
// Every check is an equality of fractions: no tolerance anywhere.

import type { Combination } from '../field.js';
import { focaWeights } from '../foca.js';
import { PAPER_SCHEDULES } from '../schedule.js';
import { taylorSeerWeights } from '../taylorseer.js';
import { focaEven, newtonEven, taylorSeerEven, taylorSeerTable } from './expansions.js';
import { Fraction, fractions as Q } from './fraction.js';
import { lagrangeWeights, newtonWeights } from './newton.js';

export const ORDERS = [1, 2, 3, 4, 5, 6, 7, 8];
export const EVEN_GAP = 4;
const EVEN_LAST = 40;
/** The paper's N=5 full steps, most recent first: gaps 7, 7, 7, 9, 5, 3, 2, 2, 1, 1. */
export const UNEVEN_ANCHORS = [...PAPER_SCHEDULES[5]!].reverse();
const UNEVEN_TARGETS = [45, 46, 47, 48, 49];

type AnchorKind = 'even' | 'uneven';

export interface Check {
  /** e.g. "taylorseer equals its difference table" */
  name: string;
  method: 'taylorseer' | 'newton' | 'foca' | 'taylorseer-vs-newton';
  anchors: AnchorKind;
  order: number;
  passed: boolean;
  /** what was found, when it matters (e.g. the degree reproduced) */
  detail?: string;
}

/** Anchors for order m, most recent first. */
export function anchorsFor(kind: AnchorKind, order: number): number[] {
  if (kind === 'even') return Array.from({ length: order + 1 }, (_, j) => EVEN_LAST - j * EVEN_GAP);
  return UNEVEN_ANCHORS.slice(0, order + 1);
}

function targetsFor(kind: AnchorKind): number[] {
  return kind === 'even' ? Array.from({ length: EVEN_GAP }, (_, k) => EVEN_LAST + k + 1) : UNEVEN_TARGETS;
}

/** TaylorSeer through the predictor's recursion, in exact fractions; anchors most recent first. */
export function taylorSeerExact(anchors: readonly number[], target: number, order: number): Combination<Fraction> {
  return taylorSeerWeights(Q, anchors, target, order);
}

function equal(a: Combination<Fraction>, b: Combination<Fraction>): boolean {
  const steps = new Set([...a.keys(), ...b.keys()]);
  const zero = Fraction.of(0);
  for (const s of steps) if (!(a.get(s) ?? zero).equals(b.get(s) ?? zero)) return false;
  return true;
}

export function sum(a: Combination<Fraction>): Fraction {
  let s = Fraction.of(0);
  for (const w of a.values()) s = s.add(w);
  return s;
}

/**
 * The largest d such that the weights reproduce every polynomial of degree <= d exactly (checked up
 * to `limit`): sum_j w_j (s_j - target)^e = [e = 0] for e = 0..d.
 */
export function exactDegree(w: Combination<Fraction>, target: number, limit: number): number {
  for (let e = 0; e <= limit; e++) {
    let s = Fraction.of(0);
    for (const [step, wj] of w) s = s.add(wj.mul(Fraction.of((step - target) ** e)));
    if (!s.equals(Fraction.of(e === 0 ? 1 : 0))) return e - 1;
  }
  return limit;
}

function onAnchors(anchors: readonly number[], values: readonly Fraction[]): Combination<Fraction> {
  return new Map(values.map((v, j) => [anchors[j]!, v]));
}

/** Runs every identity. */
export function runIdentities(): Check[] {
  const checks: Check[] = [];
  const add = (c: Check) => checks.push(c);
  for (const m of ORDERS) {
    for (const kind of ['even', 'uneven'] as const) {
      const anchors = anchorsFor(kind, m);
      const targets = targetsFor(kind);
      const ts = targets.map((t) => taylorSeerExact(anchors, t, m));
      const nw = targets.map((t) => newtonWeights(Q, anchors, t, m));
      const all = (pred: (i: number, t: number) => boolean) => targets.every((t, i) => pred(i, t));

      if (kind === 'even') {
        add({ name: "TaylorSeer's recursion equals alpha_j(r) = (-1)^j sum_i C(i,j) r^i/i!", method: 'taylorseer', anchors: kind, order: m,
          passed: all((i, t) => equal(ts[i]!, onAnchors(anchors, taylorSeerEven(Q, m, Fraction.of(t - anchors[0]!, EVEN_GAP))))) });
        add({ name: 'Newton equals its rising-factorial expansion', method: 'newton', anchors: kind, order: m,
          passed: all((i, t) => equal(nw[i]!, onAnchors(anchors, newtonEven(Q, m, Fraction.of(t - anchors[0]!, EVEN_GAP))))) });
      }
      add({ name: "TaylorSeer's recursion equals its difference table", method: 'taylorseer', anchors: kind, order: m,
        passed: all((i, t) => equal(ts[i]!, taylorSeerTable(Q, anchors, t, m))) });
      add({ name: "Newton's divided differences equal Lagrange's form", method: 'newton', anchors: kind, order: m,
        passed: all((i, t) => equal(nw[i]!, lagrangeWeights(Q, anchors, t, m))) });
      add({ name: 'TaylorSeer weights sum to 1', method: 'taylorseer', anchors: kind, order: m, passed: ts.every((w) => sum(w).equals(Fraction.of(1))) });
      add({ name: 'Newton weights sum to 1', method: 'newton', anchors: kind, order: m, passed: nw.every((w) => sum(w).equals(Fraction.of(1))) });

      const nDeg = Math.min(...targets.map((t, i) => exactDegree(nw[i]!, t, m + 2)));
      add({ name: 'Newton reproduces every polynomial of degree <= m', method: 'newton', anchors: kind, order: m, passed: nDeg >= m, detail: `exact to degree ${nDeg}` });
      const tDeg = Math.min(...targets.map((t, i) => exactDegree(ts[i]!, t, m + 2)));
      add({ name: 'TaylorSeer reproduces polynomials of degree <= 1 only', method: 'taylorseer', anchors: kind, order: m, passed: tDeg === 1, detail: `exact to degree ${tDeg}` });

      const same = all((i) => equal(ts[i]!, nw[i]!));
      add({ name: 'TaylorSeer equals Newton only at m = 1', method: 'taylorseer-vs-newton', anchors: kind, order: m, passed: same === (m === 1),
        detail: same ? 'equal' : 'different' });
    }
  }

  // FoCa: a fixed second-order form.
  const even = anchorsFor('even', 2);
  const fEven = targetsFor('even').map((t) => focaWeights(Q, even, t));
  add({ name: 'FoCa is (7/3, -5/3, 1/3) one even gap ahead', method: 'foca', anchors: 'even', order: 2,
    passed: equal(focaWeights(Q, even, even[0]! + EVEN_GAP), onAnchors(even, [Fraction.of(7, 3), Fraction.of(-5, 3), Fraction.of(1, 3)])) });
  add({ name: 'FoCa equals F + r dF + r(1+r)/(2(1+2r)) d^2F', method: 'foca', anchors: 'even', order: 2,
    passed: targetsFor('even').every((t, i) => equal(fEven[i]!, onAnchors(even, focaEven(Q, Fraction.of(t - even[0]!, EVEN_GAP))))) });
  for (const kind of ['even', 'uneven'] as const) {
    const anchors = anchorsFor(kind, 2);
    const ws = targetsFor(kind).map((t) => focaWeights(Q, anchors, t));
    add({ name: 'FoCa weights sum to 1', method: 'foca', anchors: kind, order: 2, passed: ws.every((w) => sum(w).equals(Fraction.of(1))) });
    const deg = Math.min(...targetsFor(kind).map((t, i) => exactDegree(ws[i]!, t, 4)));
    add({ name: 'FoCa reproduces polynomials of degree <= 1 only', method: 'foca', anchors: kind, order: 2, passed: deg === 1, detail: `exact to degree ${deg}` });
  }
  return checks;
}

/** Weights as rows for tables: most recent anchor first. */
export function weightRow(w: Combination<Fraction>, anchors: readonly number[]): Fraction[] {
  return anchors.map((s) => w.get(s) ?? Fraction.of(0));
}
