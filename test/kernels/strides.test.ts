import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { broadcastStrides, stridesOf } from '../../kernels/strides.js';

test('row-major strides', () => {
  assert.equal(stridesOf([2, 3, 4]), [12, 4, 1]);
  assert.equal(stridesOf([]), []);
});

test('broadcast strides read stretched dims with stride 0', () => {
  assert.equal(broadcastStrides([3, 1], [2, 3, 4]), [0, 1, 0]);
  assert.equal(broadcastStrides([2, 3, 4], [2, 3, 4]), [12, 4, 1]);
});

test.run();
