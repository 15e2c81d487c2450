import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { batchNoise, gaussian } from '../../models/noise.js';

test('seeded: the same seed gives the same noise, another seed other noise', () => {
  assert.equal(Array.from(gaussian(16, 7)), Array.from(gaussian(16, 7)));
  assert.not.equal(Array.from(gaussian(16, 7)), Array.from(gaussian(16, 8)));
});

test('standard normal moments over 200k draws', () => {
  const x = gaussian(200_000, 1);
  let m = 0, v = 0, k = 0;
  for (const a of x) m += a;
  m /= x.length;
  for (const a of x) { v += (a - m) ** 2; k += (a - m) ** 4; }
  v /= x.length; k /= x.length;
  // Standard errors: mean 0.0022, variance 0.0032, 4th moment ~0.02.
  assert.ok(Math.abs(m) < 0.01, `mean ${m}`);
  assert.ok(Math.abs(v - 1) < 0.015, `variance ${v}`);
  assert.ok(Math.abs(k - 3) < 0.1, `fourth moment ${k}`);
  assert.ok(x.every(Number.isFinite));
});

test('a batch is the concatenation of per-seed noise', () => {
  const b = batchNoise([3, 9], 5);
  assert.equal(Array.from(b.subarray(0, 5)), Array.from(gaussian(5, 3)));
  assert.equal(Array.from(b.subarray(5)), Array.from(gaussian(5, 9)));
});

test.run();
