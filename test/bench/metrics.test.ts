import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { psnr, ssim, type GrayImage } from '../../bench/metrics.js';

/**
 * Deterministic integer image pairs, the same formulas as the numpy reference that produced the
 * expected numbers below (an independent sliding-window implementation of Wang et al.'s SSIM).
 */
function pairs(W: number, H: number): GrayImage[] {
  const a: number[] = [], b: number[] = [], c: number[] = [], d: number[] = [];
  for (let i = 0; i < W * H; i++) {
    const ai = (i * 37 + ((i * i) % 101)) % 256;
    a.push(ai);
    b.push(Math.min(255, Math.max(0, ai + ((i * 13) % 41) - 20)));
    const ci = Math.floor(127.5 + 100 * Math.sin((i % W) / 3) * Math.cos(Math.floor(i / W) / 4));
    c.push(ci);
    d.push(Math.min(255, Math.max(0, ci + ((i * 7) % 17) - 8)));
  }
  return [a, b, c, d].map((data) => ({ width: W, height: H, data }));
}

test('PSNR and SSIM equal the numpy reference', () => {
  const [a, b, c, d] = pairs(28, 28);
  assert.ok(Math.abs(psnr(a, b) - 26.812964439114502) < 1e-9);
  assert.ok(Math.abs(ssim(a, b) - 0.9863616043268614) < 1e-9);
  assert.ok(Math.abs(psnr(c, d) - 34.324769171485954) < 1e-9);
  assert.ok(Math.abs(ssim(c, d) - 0.9830014087512525) < 1e-9);
  const [, , e, f] = pairs(24, 20);
  assert.ok(Math.abs(ssim(e, f) - 0.982995428045645) < 1e-9, 'non-square images');
});

test('identical images: infinite PSNR, SSIM 1', () => {
  const [a] = pairs(16, 16);
  assert.is(psnr(a, a), Infinity);
  assert.ok(Math.abs(ssim(a, a) - 1) < 1e-12);
});

test('PSNR is computed in floating point (no uint8 wrap-around)', () => {
  // A difference of 255 everywhere: MSE 65025 -> 0 dB. With uint8 arithmetic it would wrap to 1 -> 48 dB.
  const black = { width: 2, height: 1, data: new Uint8Array([0, 0]) };
  const white = { width: 2, height: 1, data: new Uint8Array([255, 255]) };
  assert.is(psnr(black, white), 0);
});

test('size mismatches and tiny images are refused', () => {
  const [a] = pairs(16, 16);
  const [b] = pairs(16, 12);
  assert.throws(() => psnr(a, b), /differ in size/);
  assert.throws(() => ssim(pairs(8, 8)[0], pairs(8, 8)[1]), /at least 11x11/);
});

test.run();
