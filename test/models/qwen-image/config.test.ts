// Reading a Qwen-Image config off checkpoint shapes and __metadata__: sizes from shapes, heads from the
// query norm width, out_channels from proj_out's rows over patch^2, axes and theta from metadata, and
// one-line refusals for files that contradict themselves.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Shape } from '../../../core/shape.js';
import { configFromShapes, macsPerSample, QWEN_IMAGE, type QwenImageConfig } from '../../../models/qwen-image/config.js';
import { expectedTensors, inspectQwenImage } from '../../../models/qwen-image/weights.js';
import { fixture } from '../../backends.js';
import { refuses } from '../../refuses.js';

/** diffusers' unit-test config (tests/models/transformers/test_models_transformer_qwenimage.py). */
const TINY: QwenImageConfig = {
  inChannels: 16, outChannels: 4, patchSize: 2, jointAttentionDim: 16, hiddenSize: 64, numHeads: 4, mlpHidden: 256,
  numLayers: 2, axesDim: [8, 4, 4], theta: 10000,
};

const shapesOf = (c: QwenImageConfig) => new Map<string, Shape>(expectedTensors(c).map((e) => [e.name, e.shape]));

test('Qwen-Image reads back from its shapes with no metadata', () => {
  assert.equal(configFromShapes(shapesOf(QWEN_IMAGE), {}), QWEN_IMAGE);
});

test('the fixtures read back with their metadata; out_channels is proj_out rows / 4', () => {
  assert.equal(inspectQwenImage(fixture('qwen-image/qwen-tiny.weights.safetensors')).config, TINY);
  const odd = inspectQwenImage(fixture('qwen-image/qwen-odd.weights.safetensors')).config;
  assert.equal([odd.inChannels, odd.outChannels, odd.hiddenSize, odd.numHeads, odd.axesDim], [64, 16, 48, 2, [8, 8, 8]]);
});

test('axes_dim (with spaces), a float theta and patch_size come from metadata', () => {
  const c = { ...TINY, axesDim: [4, 6, 6], theta: 2500.5 };
  assert.equal(configFromShapes(shapesOf(c), { axes_dim: '4, 6, 6', theta: '2500.5', num_heads: '4' }), c);
  const p1 = { ...TINY, patchSize: 1, outChannels: 16 };
  assert.equal(configFromShapes(shapesOf(p1), { axes_dim: '8,4,4', patch_size: '1' }), p1);
});

test('contradictions and malformed metadata are refused in one line', () => {
  const shapes = shapesOf(TINY);
  refuses(() => configFromShapes(shapes, { axes_dim: '8,4,4', num_heads: '8' }), /num_heads is 8, but the query norm width 16 gives 4 heads/);
  refuses(() => configFromShapes(shapes, {}), /axes_dim 16,56,56 sum to 128, but the head dim is 16 \(no __metadata__.axes_dim/);
  refuses(() => configFromShapes(shapes, { axes_dim: '8,4,2' }), /sum to 14, but the head dim is 16/);
  refuses(() => configFromShapes(shapes, { axes_dim: '8,8' }), /has 2 axes, not 3/);
  refuses(() => configFromShapes(shapes, { axes_dim: '8,4,x' }), /comma-separated positive even integers/);
  refuses(() => configFromShapes(shapes, { axes_dim: '8,4,4', theta: 'inf' }), /theta is "inf"/);
  refuses(() => configFromShapes(shapes, { axes_dim: '8,4,4', patch_size: '3' }), /proj_out.weight has 16 rows, not a multiple of patch_size\^2 = 9/);
  const gap = new Map([...shapesOf({ ...TINY, numLayers: 3 })].filter(([k]) => !k.startsWith('transformer_blocks.1.')));
  refuses(() => configFromShapes(gap, { axes_dim: '8,4,4' }), /transformer_blocks.1 is missing/);
  const none = new Map([...shapes].filter(([k]) => !k.startsWith('transformer_blocks.')));
  refuses(() => configFromShapes(none, {}), /no transformer_blocks/);
  refuses(() => configFromShapes(new Map([['img_in.weight', [4, 4]], ['txt_in.weight', [4, 4]]]), {}), /no tensor "proj_out.weight"/);
});

test('MACs of Qwen-Image at 1328x1328 (6724 image + 256 text tokens): the per-token linears and attention dominate', () => {
  // Each token meets 12 D^2 weights per block (q, k, v, out 4; MLP 8), and each block's attention
  // costs 2 T^2 D.
  const D = 3072, T = 6724 + 256;
  const dominant = 60 * (T * 12 * D * D + 2 * T * T * D);
  const macs = macsPerSample(QWEN_IMAGE, 6724, 256);
  assert.ok(macs > dominant && macs < 1.01 * dominant, `${macs} vs ${dominant}`);
});

test.run();
