import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { maxRelErr } from '../../core/accuracy.js';

test('the largest deviation over the largest reference value', () => {
  assert.is(maxRelErr([1, 2, -4.5], [1, 2.5, -4]), 0.5 / 4);
  assert.is(maxRelErr(Float32Array.of(3, -8), [3, -8]), 0);
});

test('a zero reference: the absolute deviation', () => {
  assert.is(maxRelErr([0, 0.25], [0, 0]), 0.25);
  assert.is(maxRelErr([0, 0], [0, 0]), 0);
});

test('a NaN anywhere makes the error NaN, which fails every "< tolerance" check', () => {
  assert.ok(Number.isNaN(maxRelErr([1, NaN, 1], [1, 1, 1])));
  assert.ok(Number.isNaN(maxRelErr([1, 1], [NaN, 1])));
});

test('different lengths: an error, not a number', () => {
  assert.throws(() => maxRelErr([1, 2], [1]), /2 values, the reference 1/);
});

test.run();
