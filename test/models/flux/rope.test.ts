// models/flux/rope.ts against the official EmbedND output (the fixture's `pe`, [B, 1, T, pairs, 2, 2]
// holding [[cos, -sin], [sin, cos]]): ids on every axis, odd numbers of pairs per axis, a float theta.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readSafetensorsF32 } from '../../../core/safetensors.js';
import { gridIds, ropeTable } from '../../../models/flux/rope.js';
import { fixture } from '../../backends.js';

const CONFIGS: Record<string, { axes: number[]; theta: number }> = {
  'flux-g-h64': { axes: [8, 12, 12], theta: 10000 },
  'flux-odd-h60': { axes: [2, 6, 12], theta: 2500.5 },
  'flux-nobias-h48': { axes: [4, 4, 4], theta: 10000 },
};

for (const [name, { axes, theta }] of Object.entries(CONFIGS)) {
  test(`${name}: the table equals the official EmbedND`, () => {
    const inputs = readSafetensorsF32(fixture(`flux/${name}.inputs.safetensors`)).tensors;
    const pe = readSafetensorsF32(fixture(`flux/${name}.expected.safetensors`)).tensors.get('pe')!;
    const [B, , T, pairs] = pe.shape;
    const txtIds = inputs.get('txt_ids')!, imgIds = inputs.get('img_ids')!;
    const Lt = txtIds.shape[1], L = imgIds.shape[1];
    assert.is(Lt + L, T);
    const ids = new Float32Array(B * T * 3);
    for (let b = 0; b < B; b++) {
      ids.set(txtIds.data.subarray(b * Lt * 3, (b + 1) * Lt * 3), b * T * 3);
      ids.set(imgIds.data.subarray(b * L * 3, (b + 1) * L * 3), (b * T + Lt) * 3);
    }
    const table = ropeTable(ids, B, T, axes, theta);
    let worst = 0;
    for (let i = 0; i < B * T * pairs; i++) {
      const [c, minusS, s, c2] = pe.data.subarray(i * 4, i * 4 + 4);
      assert.is(c, c2);
      assert.is(minusS, -s);
      worst = Math.max(worst, Math.abs(table[2 * i] - c), Math.abs(table[2 * i + 1] - s));
    }
    assert.ok(worst <= 1e-7, `max difference ${worst}`);
  });
}

test('grid ids are (0, row, col), row-major', () => {
  assert.equal(Array.from(gridIds(1, 2, 3)), [0, 0, 0, 0, 0, 1, 0, 0, 2, 0, 1, 0, 0, 1, 1, 0, 1, 2]);
});

test.run();
