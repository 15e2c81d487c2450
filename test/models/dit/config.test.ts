import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UserError } from '../../../core/errors.js';
import { configFromShapes, macsPerSample, preset, tokens } from '../../../models/dit/config.js';
import { expectedShapes } from '../../../models/dit/weights.js';

const shapesOf = (name: string) => new Map(expectedShapes(preset(name)));

test('presets: the paper sizes', () => {
  const xl = preset('XL/2');
  assert.equal([xl.depth, xl.hiddenSize, xl.numHeads, xl.patchSize], [28, 1152, 16, 2]);
  assert.is(xl.hiddenSize / xl.numHeads, 72);
  assert.is(tokens(preset('S/4')), 64);
  assert.throws(() => preset('M/2'), (e: Error) => e instanceof UserError && /unknown DiT preset/.test(e.message));
});

test('XL/2 at 256 px costs 118.6 GMACs per forward (the paper\'s figure)', () => {
  assert.is(Math.round(macsPerSample(preset('XL/2')) / 1e8) / 10, 118.6);
});

test('config read off the shapes of every preset, heads from the preset table', () => {
  for (const name of ['S/2', 'B/4', 'L/8', 'XL/2']) {
    assert.equal(configFromShapes(shapesOf(name), {}), preset(name), name);
  }
});

test('heads: metadata first, then --heads, then the preset', () => {
  const shapes = shapesOf('S/2');
  assert.is(configFromShapes(shapes, { num_heads: '12' }, 3).numHeads, 12);
  assert.is(configFromShapes(shapes, {}, 3).numHeads, 3);
  assert.is(configFromShapes(shapes, {}).numHeads, 6);
});

test('heads that cannot be known or do not divide the width are refused', () => {
  const odd = new Map(expectedShapes({ ...preset('S/2'), hiddenSize: 96, numHeads: 4 }));
  assert.throws(() => configFromShapes(odd, {}), /cannot tell the number of attention heads for hidden size 96 .*pass --heads H/);
  assert.throws(() => configFromShapes(odd, {}, 5), /--heads gives 5 heads, which does not divide hidden size 96/);
  assert.throws(() => configFromShapes(odd, { num_heads: 'x' }), /__metadata__\.num_heads gives NaN heads/);
});

test('a checkpoint that is not a DiT says so', () => {
  assert.throws(() => configFromShapes(new Map([['w', [1]]]), {}), /no tensor "x_embedder\.proj\.weight": it is not a DiT checkpoint/);
});

test('learn_sigma, classes and input size come from the shapes', () => {
  const c = { ...preset('B/4'), learnSigma: false, numClasses: 10, inputSize: 64 };
  assert.equal(configFromShapes(new Map(expectedShapes(c)), {}), c);
});

test.run();
