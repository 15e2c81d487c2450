// FoCa ("Forecast then Calibrate", Zheng et al. 2025) treats the output as the solution of an ODE in
// the step index and forecasts it with the second-order backward differentiation formula (BDF2):
//
//   F(t+h) = (1+w)^2/(1+2w) F(t)  -  w^2/(1+2w) F(t-h1)  +  h (1+w)/(1+2w) F'            w = h / h1
//
// the variable-step BDF2 update from the last two anchors t-h1, t to the target t+h. The slope F' the
// update needs is estimated from the last THREE anchors t-h1-h2, t-h1, t: the derivative at t of the
// parabola through them,
//
//   F'(t) = (2h1+h2)/(h1(h1+h2)) F(t)  -  (h1+h2)/(h1 h2) F(t-h1)  +  h1/(h2(h1+h2)) F(t-h1-h2).
//
// Substituting gives fixed weights on the three anchors. With even gaps and a target one gap ahead
// (h = h1 = h2) they are (7/3, -5/3, 1/3) = F + dF + dF^2/3 in backward differences, between
// TaylorSeer's (5/2, -2, 1/2) and Newton's (3, -3, 1). The weights sum to 1 (a constant is forecast
// exactly) and straight lines are reproduced exactly; parabolas are not (the slope is taken at t, not
// at t+h as BDF2 proper would). Gaps are measured in steps, like TaylorSeer's.
//
// With fewer anchors (the first steps): one anchor -> reuse; two -> linear extrapolation (the same
// update with the two-point slope).

import { float64, sortedTerms, type Combination, type Field } from './field.js';
import { StepOrder, type Predictor, type Term } from './predictor.js';

/**
 * FoCa's weights for `target` from the most recent anchors (full steps, MOST RECENT FIRST; only the
 * first three are used).
 */
export function focaWeights<T>(f: Field<T>, anchors: readonly number[], target: number): Combination<T> {
  if (anchors.length === 0) throw new Error('FoCa: no full step yet');
  const [s0, s1, s2] = anchors;
  const I = (n: number) => f.fromInt(n);
  const one = I(1);
  if (target <= s0!) throw new RangeError(`FoCa: target ${target} is not after the last anchor ${s0}`);
  if (s1 === undefined) return new Map([[s0!, one]]);
  if (!(s1 < s0!) || (s2 !== undefined && !(s2 < s1))) throw new RangeError(`FoCa: anchors must be most recent first and strictly decreasing, got ${anchors.join(',')}`);

  const h = I(target - s0!);
  const h1 = I(s0! - s1);
  if (s2 === undefined) {
    // Two anchors: F(t) + h * (F(t) - F(t-h1)) / h1.
    const w = f.div(h, h1);
    return new Map([[s0!, f.add(one, w)], [s1, f.sub(I(0), w)]]);
  }
  const h2 = I(s1 - s2);
  const w = f.div(h, h1);
  const onePlusW = f.add(one, w);
  const denom = f.add(one, f.mul(I(2), w)); // 1 + 2w
  const c0 = f.div(f.mul(onePlusW, onePlusW), denom);
  const c1 = f.sub(I(0), f.div(f.mul(w, w), denom));
  const beta = f.div(f.mul(h, onePlusW), denom);
  // The three-point slope at t.
  const h12 = f.add(h1, h2);
  const d0 = f.div(f.add(f.mul(I(2), h1), h2), f.mul(h1, h12));
  const d1 = f.sub(I(0), f.div(h12, f.mul(h1, h2)));
  const d2 = f.div(h1, f.mul(h2, h12));
  return new Map([
    [s0!, f.add(c0, f.mul(beta, d0))],
    [s1, f.add(c1, f.mul(beta, d1))],
    [s2, f.mul(beta, d2)],
  ]);
}

export class FocaPredictor implements Predictor {
  readonly name = 'foca';
  private order = new StepOrder();
  private anchors: number[] = []; // most recent first, at most 3

  observe(step: number, full: boolean): void {
    this.order.observe(step);
    if (full) this.anchors = [step, ...this.anchors].slice(0, 3);
  }

  forecast(step: number): Term[] {
    this.order.checkForecast(step);
    return sortedTerms(float64, focaWeights(float64, this.anchors, step));
  }

  live(): readonly number[] {
    return this.anchors;
  }
}
