import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Fraction, fractions } from '../../../predictors/analyzer/fraction.js';

test('normalised: lowest terms, positive denominator, so equality is field equality', () => {
  const a = Fraction.of(6, -4);
  assert.is(a.num, -3n);
  assert.is(a.den, 2n);
  assert.ok(a.equals(Fraction.of(-3, 2)));
  assert.is(Fraction.of(0, 5).toString(), '0/1');
});

test('arithmetic is exact', () => {
  const third = Fraction.of(1, 3);
  assert.is(third.add(third).add(third).toString(), '1/1');
  assert.is(Fraction.of(7, 3).sub(Fraction.of(5, 3)).toString(), '2/3');
  assert.is(Fraction.of(2, 3).mul(Fraction.of(9, 4)).toString(), '3/2');
  assert.is(Fraction.of(2, 3).div(Fraction.of(-4, 9)).toString(), '-3/2');
  assert.is(fractions.fromInt(5).toShortString(), '5');
  assert.is(Fraction.of(-5, 3).toShortString(), '-5/3');
  assert.throws(() => Fraction.of(1, 0), /zero denominator/);
  assert.throws(() => Fraction.of(1).div(Fraction.of(0)), /division by zero/);
});

test('toNumber rounds correctly, also beyond float64 range', () => {
  assert.is(Fraction.of(1, 3).toNumber(), 1 / 3);
  assert.is(Fraction.of(-109601, 40320).toNumber(), -109601 / 40320);
  const huge = new Fraction(10n ** 400n, 3n * 10n ** 399n);
  assert.ok(Math.abs(huge.toNumber() - 10 / 3) < 1e-15);
});

test.run();
