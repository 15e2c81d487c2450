// `ditto bench cpu` cut down to seconds: one small matmul shape, one run, DiT-S/8 (16 tokens) instead of
// DiT-S/2. Checks the JSON it prints, that both matmuls agree with float64 dot products, and that the
// forward is timed on the WebGPU backend where there is an adapter.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCpuBench } from '../../bench/cpu.js';
import { capture } from '../cli/harness.js';
import { testWebGpu } from '../backends.js';

const gpu = await testWebGpu();

test('a small run: matmul rows for ours and tfjs-cpu, and the forward on every backend there is', async () => {
  const { io, out } = capture();
  await runCpuBench({ json: true, runs: 1, torch: true, shapes: [[64, 48, 40]], model: 'S/8' }, io);
  const result = JSON.parse(out.join('\n'));
  assert.equal(result.rows.map((r: { backend: string }) => r.backend), ['cpu', 'tfjs-cpu']);
  for (const r of result.rows) {
    assert.equal([r.m, r.k, r.n], [64, 48, 40]);
    assert.ok(r.gflops > 0 && r.ms > 0, JSON.stringify(r));
    assert.ok(r.max_rel_err < 1e-5, `${r.backend}: max rel err ${r.max_rel_err}`);
  }
  const f = result.dit_forward;
  assert.is(f.model, 'DiT-S/8');
  assert.ok(f.ours_s > 0);
  assert.match(f.torch, /times DiT-S\/2, not DiT-S\/8/);
  if (gpu) {
    assert.ok(f.webgpu_s > 0);
    assert.type(f.webgpu_adapter, 'string');
  } else {
    assert.match(f.webgpu, /^unavailable: /);
  }
});

test('the table names the model and the WebGPU line', async () => {
  const { io, out } = capture();
  await runCpuBench({ json: false, runs: 1, torch: false, shapes: [[16, 8, 12]], model: 'S/8' }, io);
  const text = out.join('\n');
  assert.match(text, /16x8x12/);
  assert.match(text, /DiT-S\/8 forward, batch 2 .* ditto cpu [0-9.]+ s; PyTorch: skipped \(--no-torch\)/);
  assert.match(text, gpu ? /ditto webgpu on .*: [0-9.]+ s/ : /ditto webgpu: unavailable/);
});

test.run();
