import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Fraction, fractions as Q } from '../../../predictors/analyzer/fraction.js';
import { lagrangeWeights, newtonWeights } from '../../../predictors/analyzer/newton.js';

const row = (w: Map<number, Fraction>, anchors: number[]) => anchors.map((s) => (w.get(s) ?? Fraction.of(0)).toShortString());

test("one gap ahead on even anchors: docs/method.md's (2,-1), (3,-3,1), (4,-6,4,-1)", () => {
  assert.equal(row(newtonWeights(Q, [10, 5], 15, 1), [10, 5]), ['2', '-1']);
  assert.equal(row(newtonWeights(Q, [10, 5, 0], 15, 2), [10, 5, 0]), ['3', '-3', '1']);
  assert.equal(row(newtonWeights(Q, [12, 8, 4, 0], 16, 3), [12, 8, 4, 0]), ['4', '-6', '4', '-1']);
});

test('uneven anchors: divided differences equal Lagrange, and a cubic is forecast exactly at m = 3', () => {
  const anchors = [23, 14, 9, 6, 4];
  const w = newtonWeights(Q, anchors, 27, 3);
  assert.ok([...w].every(([s, v]) => v.equals(lagrangeWeights(Q, anchors, 27, 3).get(s)!)));
  const p = (t: number) => t ** 3 - 4 * t + 1;
  const forecast = [...w].reduce((acc, [s, v]) => acc.add(v.mul(Fraction.of(p(s)))), Fraction.of(0));
  assert.ok(forecast.equals(Fraction.of(p(27))));
  assert.throws(() => newtonWeights(Q, [3, 2], 5, 2), /needs 3 anchors/);
});

test.run();
