import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Fraction } from '../../../predictors/analyzer/fraction.js';
import { runIdentities } from '../../../predictors/analyzer/identities.js';
import { exactWeights, theoryReport } from '../../../predictors/analyzer/report.js';

test('exact weights: "p/q" always, value as float', () => {
  assert.equal(exactWeights(new Map([[9, Fraction.of(2)], [4, Fraction.of(-1, 3)]]), [9, 4]), [
    { step: 9, exact: '2/1', value: 2 },
    { step: 4, exact: '-1/3', value: -1 / 3 },
  ]);
});

test('the theory report has the weight tables and says all identities hold', () => {
  const text = theoryReport(runIdentities());
  assert.match(text, /\(5\/2, -2, 1\/2\)\s+\(3, -3, 1\)/);
  assert.match(text, /FoCa \(BDF2\), m = 2: \(7\/3, -5\/3, 1\/3\)/);
  assert.match(text, /all \d+ identities hold/);
});

test.run();
