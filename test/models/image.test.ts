import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { grid, toImages, upscale } from '../../models/image.js';

test('toImages maps [-1, 1] to 0..255 with clipping, like torchvision save_image', () => {
  const img = toImages(Float32Array.from([-1, 1, 0, 5, -5, 0.5]), [1, 1, 1, 6])[0];
  assert.equal(Array.from(img.data), [0, 255, 128, 255, 0, 191]);
  assert.throws(() => toImages(new Float32Array(8), [1, 2, 2, 2]), /need 1 \(gray\) or 3 \(RGB\)/);
});

test('grid places images row by row inside a border', () => {
  const one = (v: number) => ({ width: 1, height: 1, channels: 1 as const, data: Uint8Array.from([v]) });
  const g = grid([one(1), one(2), one(3)], 2, 1, 9);
  assert.equal([g.width, g.height], [5, 5]);
  assert.equal(Array.from(g.data), [9, 9, 9, 9, 9, 9, 1, 9, 2, 9, 9, 9, 9, 9, 9, 9, 3, 9, 9, 9, 9, 9, 9, 9, 9]);
});

test('upscale repeats each pixel k x k times', () => {
  const img = { width: 2, height: 1, channels: 1 as const, data: Uint8Array.from([1, 2]) };
  assert.equal(Array.from(upscale(img, 2).data), [1, 1, 2, 2, 1, 1, 2, 2]);
});

test.run();
