// TaylorSeer (Liu et al. 2025, "From Reusing to Forecasting"), exactly as its official code runs it
// (taylor_utils: derivative_approximation and taylor_formula), on the final output.
//
// At each full step s it keeps finite-difference "derivatives" of the output:
//
//   D_0(s)     = F(s)
//   D_{i+1}(s) = (D_i(s) - D_i(s_prev)) / (s - s_prev)        s_prev = the previous full step
//
// where D_i(s_prev) is what was stored at s_prev. A level is formed only while the previous full step
// stored that level, and only from step index 2 on (the official `step > first_enhance - 2` with
// first_enhance = 3); so the order grows by one per full step, up to the maximum order m. Note the
// divisor: only the MOST RECENT gap, at every level; with uneven gaps these are not divided
// differences (those divide by the span of all the points involved) and TaylorSeer then reproduces
// only straight lines exactly (the analyzer proves it).
//
// A skipped step s + k is forecast by the Taylor polynomial  sum_i D_i(s) k^i / i!.
//
// Every D_i is linear in the outputs, so we run this recursion on coefficient vectors (which output
// counts how much) instead of on tensors: the result is the forecast's weights. The code is generic
// over a Field: float64 here, exact fractions in the analyzer, same recursion.

import { difference, factorial, float64, power, sortedTerms, unit, axpy, type Combination, type Field } from './field.js';
import { StepOrder, type Predictor, type Term } from './predictor.js';

/** The first step index at which derivatives are formed (official: step > first_enhance - 2, first_enhance = 3). */
const TAYLORSEER_FIRST_DERIVATIVE_STEP = 2;

/** TaylorSeer's state after a sequence of full steps, with each D_i as a combination of outputs. */
export class TaylorSeerRecursion<T> {
  /** D_0..D_k stored at the last full step */
  private factors: Combination<T>[] = [];
  private lastFull: number | null = null;

  constructor(
    readonly field: Field<T>,
    readonly maxOrder: number,
    readonly firstDerivativeStep = TAYLORSEER_FIRST_DERIVATIVE_STEP,
  ) {
    if (!Number.isInteger(maxOrder) || maxOrder < 0) throw new RangeError(`TaylorSeer order must be a non-negative integer, got ${maxOrder}`);
  }

  /** The model ran at `step`: refresh the derivative estimates (official derivative_approximation). */
  full(step: number): void {
    const f = this.field;
    if (this.lastFull !== null && step <= this.lastFull) throw new RangeError(`TaylorSeer: full steps must increase (${this.lastFull}, then ${step})`);
    const next: Combination<T>[] = [unit(f, step)];
    if (this.lastFull !== null && step >= this.firstDerivativeStep) {
      const gap = f.fromInt(step - this.lastFull);
      // Level i + 1 exists only if the previous full step stored level i.
      for (let i = 0; i < this.maxOrder && i < this.factors.length; i++) {
        next.push(difference(f, next[i]!, this.factors[i]!, gap));
      }
    }
    this.factors = next;
    this.lastFull = step;
  }

  /** The number of derivative levels now stored (1 = only D_0). */
  get levels(): number {
    return this.factors.length;
  }

  get anchor(): number | null {
    return this.lastFull;
  }

  /** The forecast of `step` (official taylor_formula): sum_i D_i k^i / i!, k = step - last full step. */
  forecast(step: number): Combination<T> {
    if (this.lastFull === null) throw new Error('TaylorSeer: no full step yet');
    const f = this.field;
    const k = f.fromInt(step - this.lastFull);
    let out: Combination<T> = new Map();
    this.factors.forEach((d, i) => {
      out = axpy(f, out, f.div(power(f, k, i), factorial(f, i)), d);
    });
    return out;
  }
}

/**
 * TaylorSeer's weights for forecasting `target` from the full steps `anchors` (MOST RECENT FIRST, like
 * every anchor list in predictors/): the predictor's own recursion, usable over any Field. The
 * recursion sees them in the order they ran.
 */
export function taylorSeerWeights<T>(
  f: Field<T>,
  anchors: readonly number[],
  target: number,
  order: number,
  firstDerivativeStep = TAYLORSEER_FIRST_DERIVATIVE_STEP,
): Combination<T> {
  if (anchors.some((s, i) => i > 0 && !(s < anchors[i - 1]!))) {
    throw new RangeError(`TaylorSeer: anchors must be most recent first and strictly decreasing, got ${anchors.join(',')}`);
  }
  const rec = new TaylorSeerRecursion(f, order, firstDerivativeStep);
  for (let i = anchors.length - 1; i >= 0; i--) rec.full(anchors[i]!);
  return rec.forecast(target);
}

export class TaylorSeerPredictor implements Predictor {
  readonly name: string;
  private rec: TaylorSeerRecursion<number>;
  private order = new StepOrder();
  private anchors: number[] = []; // most recent first, at most maxOrder + 1

  constructor(readonly maxOrder: number) {
    this.rec = new TaylorSeerRecursion(float64, maxOrder);
    this.name = `taylorseer order ${maxOrder}`;
  }

  observe(step: number, full: boolean): void {
    this.order.observe(step);
    if (!full) return;
    this.rec.full(step);
    this.anchors = [step, ...this.anchors].slice(0, this.maxOrder + 1);
  }

  forecast(step: number): Term[] {
    this.order.checkForecast(step);
    return sortedTerms(float64, this.rec.forecast(step));
  }

  /** D_i(s) depends on the last i + 1 full steps; after the next full step, on one more. */
  live(): readonly number[] {
    return this.anchors;
  }
}
