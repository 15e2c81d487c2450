import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { axpy, difference, factorial, float64, power, sortedTerms, unit } from '../../predictors/field.js';

test('combinations: unit, axpy, difference, sorted terms without zeros', () => {
  const a = axpy(float64, unit(float64, 3), 2, unit(float64, 1)); // F3 + 2 F1
  assert.equal(sortedTerms(float64, a), [{ step: 1, weight: 2 }, { step: 3, weight: 1 }]);
  const d = difference(float64, a, unit(float64, 3), 4); // (2 F1) / 4
  assert.equal(sortedTerms(float64, d), [{ step: 1, weight: 0.5 }]);
  assert.is(factorial(float64, 5), 120);
  assert.is(power(float64, 3, 4), 81);
});

test.run();
