import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UserError } from '../../../core/errors.js';
import { configFromShapes, macsPerSample, preset, tokens } from '../../../models/dit/config.js';
import { expectedShapes } from '../../../models/dit/weights.js';
import { refuses } from '../../refuses.js';

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

/** configFromShapes must refuse with a one-line UserError matching `pattern`. */

test('heads: metadata, else --heads, else the preset; metadata and --heads must agree', () => {
  const shapes = shapesOf('S/2');
  assert.is(configFromShapes(shapes, { num_heads: '12' }).numHeads, 12);
  assert.is(configFromShapes(shapes, { num_heads: '12' }, 12).numHeads, 12);
  assert.is(configFromShapes(shapes, {}, 3).numHeads, 3);
  assert.is(configFromShapes(shapes, {}).numHeads, 6);
  refuses(() => configFromShapes(shapes, { num_heads: '12' }, 3), /^--heads 3 disagrees with __metadata__\.num_heads = 12: drop --heads$/);
});

test('heads that cannot be known or do not divide the width are refused', () => {
  const odd = new Map(expectedShapes({ ...preset('S/2'), hiddenSize: 96, numHeads: 4 }));
  refuses(() => configFromShapes(odd, {}), /cannot tell the number of attention heads for hidden size 96 .*pass --heads H/);
  refuses(() => configFromShapes(odd, {}, 5), /^--heads 5 does not divide hidden size 96: pass a --heads that does$/);
  refuses(() => configFromShapes(odd, { num_heads: '5' }), /^__metadata__\.num_heads = 5 does not divide hidden size 96: fix the checkpoint's metadata$/);
  // --heads cannot stand in for broken metadata: the file is wrong and must be fixed.
  refuses(() => configFromShapes(odd, { num_heads: '5' }, 4), /num_heads = 5 does not divide/);
  for (const bad of ['x', '', '0', '-4', '4.0', '0x4', ' 4', '1e1']) {
    refuses(() => configFromShapes(odd, { num_heads: bad }), new RegExp(`^__metadata__\\.num_heads is ${JSON.stringify(bad).replace(/[.+]/g, '\\$&')}, not a positive integer`));
  }
});

test('a checkpoint that is not a DiT says so', () => {
  refuses(() => configFromShapes(new Map([['w', [1]]]), {}), /no tensor "x_embedder\.proj\.weight": is this a DiT checkpoint/);
  const noBlocks = new Map([...shapesOf('S/2')].filter(([name]) => !name.startsWith('blocks.')));
  refuses(() => configFromShapes(noBlocks, {}), /no transformer blocks .*is this a DiT checkpoint/);
});

test('depth: blocks numbered 0..depth-1, a gap is refused', () => {
  const shapes = shapesOf('S/2');
  const without = (i: number) => new Map([...shapes].filter(([name]) => !name.startsWith(`blocks.${i}.`)));
  refuses(() => configFromShapes(without(3), {}), /^block 3 is missing \(the checkpoint has blocks 0-2, 4-11\): .*re-export the complete checkpoint$/);
  refuses(() => configFromShapes(without(0), {}), /^block 0 is missing \(the checkpoint has blocks 1-11\)/);
  // One stray tensor of a far block is a gap, not a deeper model.
  const stray = new Map(shapes).set('blocks.99999999999999999999.attn.qkv.weight', [1152, 384]);
  refuses(() => configFromShapes(stray, {}), /^block 12 is missing \(the checkpoint has blocks 0-11, 100000000000000000000\)/);
  // Without its last block, the model is one block shallower: checkTensors then finds nothing missing.
  assert.is(configFromShapes(without(11), {}).depth, 11);
  // Non-canonical indices do not count as blocks (checkTensors names them as unknown tensors).
  assert.is(configFromShapes(new Map(shapes).set('blocks.012.attn.qkv.weight', [1152, 384]), {}).depth, 12);
});

test('sizes a DiT needs positive, a square token grid and a null class are required', () => {
  const shapes = shapesOf('S/2');
  const edit = (name: string, shape: number[]) => new Map(shapes).set(name, shape);
  refuses(() => configFromShapes(edit('pos_embed', [1, 0, 384]), {}), /^pos_embed has 0 tokens: a DiT needs at least one$/);
  refuses(() => configFromShapes(edit('pos_embed', [1, 255, 384]), {}), /pos_embed has 255 tokens, not a square grid/);
  refuses(() => configFromShapes(edit('pos_embed', [256, 384]), {}), /tensor "pos_embed" has shape \[256, 384\], expected rank 3/);
  for (const shape of [[0, 4, 2, 2], [384, 0, 2, 2], [384, 4, 0, 0], [2 ** 40, 0, 2, 2]]) {
    refuses(() => configFromShapes(edit('x_embedder.proj.weight', shape), {}), /x_embedder\.proj\.weight has shape .*: a DiT needs a positive hidden size, channel count and patch size$/);
  }
  refuses(() => configFromShapes(edit('blocks.0.mlp.fc1.weight', [0, 384]), {}), /fc1\.weight has 0 rows: a DiT needs an MLP of positive width/);
  for (const rows of [0, 1]) {
    refuses(() => configFromShapes(edit('y_embedder.embedding_table.weight', [rows, 384]), {}), /label table .* has (0 rows|1 row): ditto needs num_classes \+ 1 .*at least 2$/);
  }
  refuses(() => configFromShapes(edit('final_layer.linear.weight', [0, 384]), {}), /final_layer\.linear\.weight has 0 rows: expected p\*p\*C or p\*p\*2C \(16 or 32\)/);
});

test('__metadata__.patch_size and learn_sigma, when given, must match the shapes', () => {
  const shapes = shapesOf('S/2');
  assert.is(configFromShapes(shapes, { patch_size: '2', learn_sigma: 'True' }).learnSigma, true);
  refuses(() => configFromShapes(shapes, { patch_size: '4' }), /^__metadata__\.patch_size is 4 but x_embedder\.proj\.weight has patch 2: fix the checkpoint's metadata$/);
  refuses(() => configFromShapes(shapes, { learn_sigma: 'false' }), /^__metadata__\.learn_sigma is "false" but final_layer\.linear\.weight has 32 rows, learn_sigma true/);
});

test('__metadata__.num_classes must be a count that matches the label table', () => {
  const shapes = shapesOf('S/2');
  assert.is(configFromShapes(shapes, { num_classes: '1000' }).numClasses, 1000);
  refuses(() => configFromShapes(shapes, { num_classes: '1001' }), /num_classes is 1001 but the label table has 1001 rows/);
  refuses(() => configFromShapes(shapes, { num_classes: 'ten' }), /^__metadata__\.num_classes is "ten", not a positive integer/);
});

test('an MLP width that is no multiple of the hidden size reads back exactly', () => {
  // 7 / 100 * 100 is 7.000000000000001 in floating point.
  const shapes = new Map(expectedShapes({ ...preset('S/2'), hiddenSize: 100, numHeads: 4, depth: 2 }));
  for (let i = 0; i < 2; i++) {
    shapes.set(`blocks.${i}.mlp.fc1.weight`, [7, 100]).set(`blocks.${i}.mlp.fc1.bias`, [7]).set(`blocks.${i}.mlp.fc2.weight`, [100, 7]);
  }
  assert.equal(new Map(expectedShapes(configFromShapes(shapes, {}, 4))), shapes);
});

test('learn_sigma, classes and input size come from the shapes', () => {
  const c = { ...preset('B/4'), learnSigma: false, numClasses: 10, inputSize: 64 };
  assert.equal(configFromShapes(new Map(expectedShapes(c)), {}), c);
});

test.run();
