import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { focaEven, newtonEven, taylorSeerEven, taylorSeerTable } from '../../../predictors/analyzer/expansions.js';
import { Fraction, fractions as Q } from '../../../predictors/analyzer/fraction.js';
import { float64 } from '../../../predictors/field.js';

const s = (ws: Fraction[]) => ws.map((w) => w.toShortString());

test("TaylorSeer's alpha_j(r): docs/method.md's m = 1..3 polynomials at several r", () => {
  for (const [p, q] of [[1, 1], [1, 2], [3, 4], [2, 1], [7, 5]] as const) {
    const r = Fraction.of(p, q), x = p / q;
    const want: Record<number, number[]> = {
      1: [1 + x, -x],
      2: [1 + x + x ** 2 / 2, -x - x ** 2, x ** 2 / 2],
      3: [1 + x + x ** 2 / 2 + x ** 3 / 6, -x - x ** 2 - x ** 3 / 2, x ** 2 / 2 + x ** 3 / 2, -(x ** 3) / 6],
    };
    for (const m of [1, 2, 3]) {
      taylorSeerEven(Q, m, r).forEach((w, j) => assert.ok(Math.abs(w.toNumber() - want[m]![j]!) < 1e-12, `m=${m} r=${x} j=${j}`));
    }
  }
  assert.equal(s(taylorSeerEven(Q, 2, Fraction.of(1))), ['5/2', '-2', '1/2']);
});

test('Newton and FoCa in differences, one gap ahead', () => {
  assert.equal(s(newtonEven(Q, 3, Fraction.of(1))), ['4', '-6', '4', '-1']);
  assert.equal(s(focaEven(Q, Fraction.of(1))), ['7/3', '-5/3', '1/3']);
});

test("the difference table divides by the latest gap at every level (not divided differences)", () => {
  // anchors 10, 7, 3 (most recent first): D1 = (F10 - F7)/3, D1' = (F7 - F3)/4, D2 = (D1 - D1')/3
  const w = taylorSeerTable(float64, [10, 7, 3], 12, 2);
  const k = 2;
  const d1 = new Map([[10, 1 / 3], [7, -1 / 3]]), d1p = new Map([[7, 1 / 4], [3, -1 / 4]]);
  const want = (step: number) => (step === 10 ? 1 : 0) + k * (d1.get(step) ?? 0) + (k * k / 2) * (((d1.get(step) ?? 0) - (d1p.get(step) ?? 0)) / 3);
  for (const step of [10, 7, 3]) assert.ok(Math.abs(w.get(step)! - want(step)) < 1e-12, `step ${step}`);
});

test.run();
