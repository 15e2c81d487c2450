// Telling the architecture from a checkpoint's tensor names, on each family's real fixture files.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { architectureOf, checkpointArchitecture } from '../../models/architecture.js';
import { fixture } from '../backends.js';

test('each fixture is recognised as its family', () => {
  assert.is(checkpointArchitecture(fixture('dit-d2-h96-p2.weights.safetensors')), 'dit');
  for (const name of ['flux-g-h64', 'flux-odd-h60', 'flux-nobias-h48']) assert.is(checkpointArchitecture(fixture(`flux/${name}.weights.safetensors`)), 'flux', name);
  for (const name of ['qwen-tiny', 'qwen-odd', 'qwen-multi']) assert.is(checkpointArchitecture(fixture(`qwen-image/${name}.weights.safetensors`)), 'qwen-image', name);
});

test('names both families share (img_in, txt_in) decide nothing; unknown layouts are read as DiT', () => {
  assert.is(architectureOf(['img_in.weight', 'txt_in.weight', 'double_blocks.0.img_mod.lin.weight']), 'flux');
  assert.is(architectureOf(['img_in.weight', 'txt_in.weight', 'txt_norm.weight']), 'qwen-image');
  assert.is(architectureOf(['img_in.weight', 'txt_in.weight']), 'dit');
  assert.is(architectureOf(['model.diffusion_model.input_blocks.0.0.weight']), 'dit');
});

test.run();
