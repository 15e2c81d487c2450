import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { broadcastShapes, numel } from '../../core/shape.js';

test('element counts', () => {
  assert.is(numel([2, 3, 4]), 24);
  assert.is(numel([]), 1);
  assert.is(numel([3, 0]), 0);
});

test('NumPy broadcasting, zero-size dims included', () => {
  assert.equal(broadcastShapes([2, 1, 4], [3, 1]), [2, 3, 4]);
  assert.equal(broadcastShapes([0, 3], [3]), [0, 3]);
  assert.equal(broadcastShapes([1], [0]), [0]);
  assert.throws(() => broadcastShapes([2, 3], [4]), /cannot broadcast shapes \[2, 3\] and \[4\]/);
  assert.throws(() => broadcastShapes([0], [2]), /cannot broadcast/);
});

test.run();
