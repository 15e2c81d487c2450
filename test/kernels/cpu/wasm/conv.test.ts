// kernels/cpu/wasm/conv.ts against the TypeScript convolution (kernels/cpu/conv.ts), the reference:
// 1x1, 3x3 and 5x5 kernels with the paddings the VAE uses (and none), widths that do not divide the
// 4-pixel strips, channel counts that split K into several chunks, out-channel counts that do not
// divide the 8-column panels, several bands per image, two images, and item ranges as threads split them.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { maxRelErr } from '../../../../core/accuracy.js';
import { CONV_BLOCK, conv2dBlocks, convOutputSize, type Conv2dArgs } from '../../../../kernels/cpu/conv.js';
import { conv2dBandsSimd, convBandRows } from '../../../../kernels/cpu/wasm/conv.js';
import { matmulVariant, packedPanelsLength, packPanelRange } from '../../../../kernels/cpu/wasm/matmul.js';
import { randn } from '../../../reference.js';

/** [channels, height, width, outChannels, kernel, padding] */
const cases: [number, number, number, number, number, number][] = [
  [1, 1, 1, 1, 1, 0],
  [3, 5, 7, 5, 3, 1],
  [70, 5, 9, 13, 3, 1], // K = 630: two chunks of 35 channels
  [600, 3, 3, 9, 1, 0], // 1x1, K = 600: two chunks
  [4, 9, 6, 10, 3, 0], // no padding: 7x4 outputs
  [2, 11, 13, 3, 5, 2],
  [5, 70, 3, 17, 3, 1], // 3 pixels a row: 64 rows a band, two bands
  [8, 16, 16, 8, 3, 1],
];

test('simd conv2d equals the TypeScript conv2d', () => {
  if (!matmulVariant()) return;
  for (const [C, H, W, O, k, P] of cases) {
    const images = 2;
    const shape = { height: H, width: W, kernelH: k, kernelW: k, padding: P };
    const { oh, ow } = convOutputSize(shape);
    const K = C * k * k;
    const w = randn(O * K, C + O);
    const args: Conv2dArgs = { x: randn(images * C * H * W, H + W), w, bias: randn(O, 3), y: new Float32Array(0), channels: C, outChannels: O, ...shape };
    const panels = new Float32Array(packedPanelsLength(O, K));
    packPanelRange({ w, n: O, k: K, panels }, 0, Math.ceil(O / 8));
    const want = new Float32Array(images * O * oh * ow);
    conv2dBlocks({ ...args, y: want }, 0, images * Math.ceil((oh * ow) / CONV_BLOCK));
    const items = images * Math.ceil(oh / convBandRows(shape));
    for (const cuts of [[0, items], [0, Math.floor(items / 2), items]]) {
      for (const bias of [true, false]) {
        const got = new Float32Array(want.length).fill(NaN);
        const ref = bias ? want : new Float32Array(want.length);
        if (!bias) conv2dBlocks({ ...args, bias: null, y: ref }, 0, images * Math.ceil((oh * ow) / CONV_BLOCK));
        for (let i = 0; i + 1 < cuts.length; i++) conv2dBandsSimd({ ...args, bias: bias ? args.bias : null, y: got, panels }, cuts[i], cuts[i + 1]);
        const label = `C=${C} ${H}x${W} O=${O} ${k}x${k} pad ${P} bias=${bias} items ${cuts}`;
        assert.ok(got.every(Number.isFinite), `${label}: unwritten or non-finite outputs`);
        const err = maxRelErr(got, ref);
        assert.ok(err <= 1e-5, `${label}: relative error ${err.toExponential(2)}`);
      }
    }
  }
});

test.run();
