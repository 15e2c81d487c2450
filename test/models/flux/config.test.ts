// Reading a FLUX config off checkpoint shapes and __metadata__: sizes from shapes, heads from the q/k
// norm width, axes and theta from metadata, and one-line refusals for files that contradict themselves.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { configFromShapes, FLUX1_DEV, macsPerSample, type FluxConfig } from '../../../models/flux/config.js';
import { expectedTensors } from '../../../models/flux/weights.js';
import { refuses } from '../../refuses.js';

const SMALL: FluxConfig = {
  inChannels: 12, outChannels: 8, vecInDim: 10, contextInDim: 14, hiddenSize: 60, numHeads: 3, mlpHidden: 180,
  depth: 1, depthSingle: 2, axesDim: [2, 6, 12], theta: 2500.5, qkvBias: true, guidanceEmbed: false,
};

const shapesOf = (c: FluxConfig) => new Map(expectedTensors(c, null).map((e) => [e.name, e.shape]));

test('FLUX.1-dev and schnell read back from their shapes with no metadata', () => {
  assert.equal(configFromShapes(shapesOf(FLUX1_DEV), {}), FLUX1_DEV);
  const schnell = { ...FLUX1_DEV, guidanceEmbed: false };
  assert.equal(configFromShapes(shapesOf(schnell), {}), schnell);
});

test('axes_dim (with spaces) and a float theta come from metadata; no qkv bias; no double blocks', () => {
  const meta = { axes_dim: '2, 6, 12', theta: '2500.5', num_heads: '3' };
  assert.equal(configFromShapes(shapesOf(SMALL), meta), SMALL);
  const noBias = { ...SMALL, qkvBias: false };
  assert.equal(configFromShapes(shapesOf(noBias), meta), noBias);
  const singleOnly = { ...SMALL, depth: 0 };
  assert.equal(configFromShapes(shapesOf(singleOnly), meta), singleOnly);
});

test('contradictions and malformed metadata are refused in one line', () => {
  const shapes = shapesOf(SMALL);
  refuses(() => configFromShapes(shapes, { axes_dim: '2,6,12', num_heads: '4' }), /num_heads is 4, but the query\/key norm width 20 gives 3 heads/);
  refuses(() => configFromShapes(shapes, {}), /axes_dim 16,56,56 sum to 128, but the head dim is 20 \(no __metadata__.axes_dim/);
  refuses(() => configFromShapes(shapes, { axes_dim: '2,6,10' }), /sum to 18, but the head dim is 20/);
  refuses(() => configFromShapes(shapes, { axes_dim: '2,6,x' }), /comma-separated positive even integers/);
  refuses(() => configFromShapes(shapes, { axes_dim: '3,5,12' }), /comma-separated positive even integers/);
  refuses(() => configFromShapes(shapes, { axes_dim: '2,6,12', theta: 'inf' }), /theta is "inf"/);
  refuses(() => configFromShapes(shapes, { axes_dim: '2,6,12', theta: '-3' }), /theta is "-3"/);
  const gap = new Map([...shapesOf({ ...SMALL, depthSingle: 3 })].filter(([k]) => !k.startsWith('single_blocks.1.')));
  refuses(() => configFromShapes(gap, { axes_dim: '2,6,12' }), /single_blocks.1 is missing/);
  refuses(() => configFromShapes(new Map([['img_in.weight', [4, 4]]]), {}), /no tensor "final_layer.linear.weight"/);
});

test('MACs of FLUX.1-dev at 1024x1024 (4096 image + 512 text tokens): the per-token linears and attention dominate', () => {
  // Each token meets 12 D^2 weights per block (double: qkv 3, proj 1, MLP 8 in its own stream; single:
  // linear1 7, linear2 5), and each of the 57 blocks' attention costs 2 T^2 D: 37.2 TMAC, 74 TFLOP.
  const D = 3072, T = 4608;
  const dominant = T * 57 * 12 * D * D + 57 * 2 * T * T * D;
  const macs = macsPerSample(FLUX1_DEV, 4096, 512);
  assert.ok(macs > dominant && macs < 1.01 * dominant, `${macs} vs ${dominant}`);
});

test.run();
