// models/qwen-image/rope.ts against diffusers' QwenEmbedRope tables (the fixtures' rope.img [L, pairs, 2]
// and rope.txt [Lt, pairs, 2] of (cos, sin)): centred odd and even grids, two images in one sequence.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UserError } from '../../../core/errors.js';
import { readSafetensorsF32, SafetensorsFile } from '../../../core/safetensors.js';
import { imagePositions, qwenRope, textPositions, textStart, type ImageShape } from '../../../models/qwen-image/rope.js';
import { fixture } from '../../backends.js';

function imageShapes(name: string): ImageShape[] {
  const file = SafetensorsFile.open(fixture(`qwen-image/${name}.inputs.safetensors`));
  const flat = file.readI32('img_shapes');
  file.close();
  return Array.from({ length: flat.length / 3 }, (_, k) => [flat[3 * k], flat[3 * k + 1], flat[3 * k + 2]] as const);
}

const AXES: Record<string, number[]> = { 'qwen-tiny': [8, 4, 4], 'qwen-odd': [8, 8, 8], 'qwen-multi': [4, 6, 6] };

for (const name of Object.keys(AXES)) {
  test(`${name}: the tables equal diffusers' QwenEmbedRope bit for bit`, () => {
    const want = readSafetensorsF32(fixture(`qwen-image/${name}.expected.safetensors`)).tensors;
    const Lt = want.get('rope.txt')!.shape[0];
    const { img, txt } = qwenRope(imageShapes(name), Lt, AXES[name], 10000);
    assert.equal(Array.from(img), Array.from(want.get('rope.img')!.data));
    assert.equal(Array.from(txt), Array.from(want.get('rope.txt')!.data));
  });
}

test('positions: rows and columns centred, frame = image index, text after the largest half-grid', () => {
  // A 3x5 grid: rows -2..0, columns -3..1.
  const pos = Array.from(imagePositions([[1, 3, 5]]));
  assert.equal(pos.slice(0, 6), [0, -2, -3, 0, -2, -2]);
  assert.equal(pos.slice(-3), [0, 0, 1]);
  // The second image of a sequence is frame 1; text starts at max(2//2, 3//2, 3//2, 4//2) = 2.
  const two = Array.from(imagePositions([[1, 2, 3], [1, 3, 4]]));
  assert.equal(two.slice(18, 21), [1, -2, -2]);
  assert.is(textStart([[1, 2, 3], [1, 3, 4]]), 2);
  assert.equal(Array.from(textPositions([[1, 4, 4]], 2)), [2, 2, 2, 3, 3, 3]);
});

test("positions beyond diffusers' 4096-entry tables are refused in one line", () => {
  assert.throws(() => qwenRope([[1, 64, 64]], 4065, [8, 4, 4], 10000), (e: Error) => e instanceof UserError && /text positions reach 4096 \(4065 tokens after position 32\)/.test(e.message));
  assert.throws(() => qwenRope([[1, 8194, 2]], 1, [8, 4, 4], 10000), /8194 x 2 patches, beyond diffusers' 8192 positions per side/);
  assert.not.throws(() => qwenRope([[1, 64, 64]], 4064, [8, 4, 4], 10000));
});

test.run();
