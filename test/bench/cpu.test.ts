// `ditto bench cpu` cut down to seconds: one small matmul shape, one run, DiT-S/8 (16 tokens) instead of
// DiT-S/2. Checks the data it returns, that both matmuls agree with float64 dot products, that the
// forward is timed on the WebGPU backend where there is an adapter, and that a machine without
// TensorFlow.js still gets our numbers and a row saying how to install it.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCpuBench } from '../../bench/cpu.js';
import type { Importer } from '../../bench/peers/peer.js';
import { formatJson } from '../../cli/json.js';
import { testWebGpu } from '../backends.js';

const gpu = await testWebGpu();
/** Node's own "Cannot find package" for every package a peer imports. */
const absent: Importer = (specifier) => import(`${specifier}-not-installed`);

/** Every key of a JSON text that is a field name (not data like 'tfjs-cpu'): snake_case. */
function camelKeys(json: string): string[] {
  return [...json.matchAll(/"([^"]+)":/g)].map((m) => m[1]).filter((k) => /^[a-z]+[A-Z]/.test(k));
}

test('a small run: matmul rows for ours and tfjs-cpu, the forward on every backend there is, progress lines', async () => {
  const progress: string[] = [];
  const result = await runCpuBench({ runs: 1, torch: true, shapes: [[64, 48, 40]], model: 'S/8', onProgress: (l) => progress.push(l) });
  // The TypeScript kernels get their own row when the backend runs the SIMD ones.
  const ts = result.machine.kernels.startsWith('simd') ? ['cpu-ts'] : [];
  assert.equal(result.rows.map((r) => r.backend), ['cpu', ...ts, 'tfjs-cpu']);
  for (const r of result.rows) {
    assert.equal([r.m, r.k, r.n], [64, 48, 40]);
    assert.ok(r.gflops! > 0 && r.ms! > 0, JSON.stringify(r));
    assert.ok(r.max_rel_err! < 1e-5, `${r.backend}: max rel err ${r.max_rel_err}`);
    assert.is(r.skipped, undefined);
  }
  assert.match(result.machine.peers['tfjs-cpu'], /^@tensorflow\/tfjs-backend-cpu \d+\.\d+/);
  const f = result.dit_forward;
  assert.is(f.model, 'DiT-S/8');
  assert.ok(f.ours_s > 0);
  assert.ok('unavailable' in f.torch && /times DiT-S\/2, not DiT-S\/8/.test(f.torch.unavailable));
  if (gpu) assert.ok('seconds' in f.webgpu && f.webgpu.seconds > 0 && typeof f.webgpu.adapter === 'string');
  else assert.ok('unavailable' in f.webgpu);
  assert.equal(progress.map((l) => l.split(':')[0]), ['matmul 64x48x40 cpu', ...ts.map((b) => `matmul 64x48x40 ${b}`), 'matmul 64x48x40 tfjs-cpu', 'DiT-S/8 forward cpu', 'DiT-S/8 forward webgpu']);
  // What --json prints: numbers survive, keys are snake_case.
  const json = formatJson(result);
  assert.equal(JSON.parse(json).rows[0].max_rel_err, result.rows[0].max_rel_err);
  assert.equal(camelKeys(json), []);
});

test('without TensorFlow.js: our rows are measured, its rows say which package is missing and how to install it', async () => {
  const result = await runCpuBench({ runs: 1, torch: false, shapes: [[16, 8, 12]], model: 'S/8', importer: absent });
  const ours = result.rows[0], peer = result.rows.at(-1)!;
  assert.ok(ours.gflops! > 0 && ours.max_rel_err! < 1e-5);
  assert.is(peer.backend, 'tfjs-cpu');
  assert.equal([peer.gflops, peer.ms, peer.max_rel_err], [null, null, null]);
  assert.match(peer.skipped!, /^unavailable: Cannot find package '@tensorflow\/tfjs-core-not-installed' \(npm install @tensorflow\/tfjs-core @tensorflow\/tfjs-backend-cpu\)$/);
  assert.is(result.machine.peers['tfjs-cpu'], peer.skipped);
  assert.ok('unavailable' in result.dit_forward.torch && result.dit_forward.torch.unavailable === 'skipped (--no-torch)');
});

test.run();
