// bench/profile.ts: dispatches grouped by kernel with each dispatch's median over the runs; one
// profiled forward of a tiny model on each backend accounts for every op the model runs.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { groupDispatches, kernelName, runProfileBench } from '../../bench/profile.js';
import { WebGpuBackend } from '../../core/webgpu/index.js';
import type { DiT } from '../../models/dit/dit.js';
import { openModel } from '../../models/pretrained.js';
import { testBackends } from '../backends.js';

test('kernel names are the key up to its first |', () => {
  assert.equal(['matmul.subgroup|1x2|x', 'layerNorm|8x4', 'linear'].map(kernelName), ['matmul.subgroup', 'layerNorm', 'linear']);
});

test('each dispatch counts its median over the runs; rows sum per kernel, the most time first', () => {
  const run = (a: number, b: number, c: number) => [{ key: 'mm|1', ms: a }, { key: 'ln|1', ms: b }, { key: 'mm|2', ms: c }];
  const { rows, total } = groupDispatches([run(1, 6, 2), run(3, 4, 9), run(2, 100, 1)]);
  assert.equal(rows, [
    { kernel: 'ln', dispatches: 1, ms: 6, pct: 60 },
    { kernel: 'mm', dispatches: 2, ms: 4, pct: 40 },
  ]);
  assert.is(total, 10);
  assert.throws(() => groupDispatches([run(1, 1, 1), run(1, 1, 1).slice(1)]), /dispatched different kernels/);
});

for (const backend of await testBackends()) {
  test(`${backend.name}: the profile of a mnist-dit forward covers every linear and attention`, async () => {
    const model = openModel(undefined, backend).model;
    const r = await runProfileBench({ model, name: 'mnist-dit', batch: 2, runs: 2 });
    assert.equal([r.model, r.backend, r.batch, r.runs], ['mnist-dit', backend.name, 2, 2]);
    assert.is(r.timing, backend instanceof WebGpuBackend ? (backend.adapter.timestamps ? 'timestamp' : 'wall') : 'op-wall');
    const blocks = (model as DiT).config.depth;
    const count = (re: RegExp) => r.rows.filter((x) => re.test(x.kernel)).reduce((a, x) => a + x.dispatches, 0);
    // Per block: adaLN, qkv, proj, fc1, fc2; outside: patch embedding, two time-MLP layers, final adaLN and linear.
    assert.is(count(/^(linear|matmul)/), 5 * blocks + 5);
    assert.is(count(/^attention($|\.)/), blocks);
    assert.is(r.dispatches, r.rows.reduce((a, x) => a + x.dispatches, 0));
    assert.ok(Math.abs(r.rows.reduce((a, x) => a + x.pct, 0) - 100) < 1e-9);
    assert.ok(r.forward_s > 0 && r.dispatch_ms > 0);
  });
}

test.run();
