// `ditto bench cpu` cut down to seconds: one small matmul shape, one run, DiT-S/8 (16 tokens) instead of
// DiT-S/2. Checks the data it returns (Benchmark.js medians with margins, ratios against ditto at the
// same threads), that every matmul agrees with float64 dot products, that the forward runs on every
// backend and peer there is, on PyTorch's weights when python3 has torch (every output checked against
// PyTorch's), and that a machine without the peers still gets our numbers and rows saying how to
// install them.

import { spawnSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCpuBench, type CpuForwardRow } from '../../bench/cpu.js';
import type { Importer } from '../../bench/peers/peer.js';
import { formatJson } from '../../cli/json.js';
import { testWebGpu } from '../backends.js';

const gpu = await testWebGpu();
/** Node's own "Cannot find package" for every package a peer imports. */
const absent: Importer = (specifier) => import(`${specifier}-not-installed`);
const torch = spawnSync(process.env.DITTO_PYTHON ?? '/usr/bin/python3', ['-c', 'import torch']).status === 0;

/** Every key of a JSON text that is a field name (not data like 'tfjs-cpu'): snake_case. */
function camelKeys(json: string): string[] {
  return [...json.matchAll(/"([^"]+)":/g)].map((m) => m[1]).filter((k) => /^[a-z]+[A-Z]/.test(k));
}

test('a small run: matmul rows for ditto (all threads and one) and the tfjs peers, the forward on every backend and peer there is', async () => {
  const progress: string[] = [];
  const result = await runCpuBench({ runs: 1, torch: true, shapes: [[64, 48, 40]], model: 'S/8', onProgress: (l) => progress.push(l) });
  const threads = result.machine.threads;
  // ditto on one thread when it has more (the tfjs peers' count); its TypeScript kernels when they are not the default.
  const expected: [string, number][] = [['cpu', threads], ...(threads > 1 ? [['cpu', 1] as [string, number]] : []),
    ...(result.machine.kernels.startsWith('simd') ? [['cpu-ts', threads] as [string, number]] : []), ['tfjs-cpu', 1], ['tfjs-wasm', 1]];
  assert.equal(result.rows.map((r) => [r.backend, r.threads]), expected);
  for (const r of result.rows) {
    assert.equal([r.m, r.k, r.n], [64, 48, 40]);
    assert.ok(r.gflops! > 0 && r.ms! > 0 && r.margin_pct! >= 0, JSON.stringify(r));
    assert.ok(r.max_rel_err! < 1e-5, `${r.backend}: max rel err ${r.max_rel_err}`);
    assert.is(r.skipped, undefined);
    // ditto's median over the row's, ditto taken at the row's threads.
    const ours = result.rows.find((x) => x.backend === 'cpu' && x.threads === r.threads)!;
    assert.is(r.ratio, r.backend === 'cpu' ? null : ours.ms! / r.ms!);
  }
  assert.match(result.machine.peers['tfjs-cpu'], /^@tensorflow\/tfjs-backend-cpu \d+\.\d+\.\d+, 1 thread$/);
  assert.match(result.machine.peers['tfjs-wasm'], /^@tensorflow\/tfjs-backend-wasm \d+\.\d+\.\d+, SIMD, 1 thread$/);
  const f = result.dit_forward;
  assert.is(f.model, 'DiT-S/8');
  assert.equal(f.rows.map((r) => r.backend), ['cpu', 'webgpu', 'onnxruntime', 'pytorch']);
  const [cpu, webgpu, ort, pytorch] = f.rows;
  const timedRow = (r: CpuForwardRow) => {
    assert.ok(r.ms! > 0 && r.margin_pct! >= 0, JSON.stringify(r));
    assert.is(r.ratio, r === cpu ? null : cpu.ms! / r.ms!);
    // Every output against PyTorch's on the same weights and inputs (PyTorch's own row is the reference).
    if (torch && r !== pytorch) assert.ok(r.max_rel_err! < 1e-4, `${r.backend}: ${r.max_rel_err}`);
    else assert.is(r.max_rel_err, null);
  };
  timedRow(cpu);
  if (gpu) timedRow(webgpu);
  else assert.ok(webgpu.skipped);
  if (torch) {
    assert.match(f.weights, /^tools\/export_dit_onnx\.py/);
    timedRow(ort);
    timedRow(pytorch);
    assert.match(ort.on!, /^onnxruntime-node \d+\.\d+/);
    assert.match(pytorch.on!, /^torch \d+\.\d+/);
    assert.is(result.machine.peers.pytorch, pytorch.on);
  } else {
    // Without torch there is no ONNX file: both peers say why, in one line.
    assert.match(pytorch.skipped!, /python3|torch/);
    assert.match(ort.skipped!, /^needs the ONNX file of tools\/export_dit_onnx\.py: .*(python3|torch)/);
  }
  assert.equal(progress.map((l) => l.split(':')[0]), [
    ...expected.map(([b, t]) => `matmul 64x48x40 ${b} (${t} thread${t > 1 ? 's' : ''})`),
    ...['cpu', 'webgpu', 'onnxruntime', 'pytorch'].map((b) => `DiT-S/8 forward ${b}`),
  ]);
  // What --json prints: numbers survive, keys are snake_case.
  const json = formatJson(result);
  assert.equal(JSON.parse(json).rows[0].max_rel_err, result.rows[0].max_rel_err);
  assert.equal(camelKeys(json), []);
});

test('without the peers\' packages: our rows are measured, theirs say which package is missing and how to install it', async () => {
  const result = await runCpuBench({ runs: 1, torch: false, shapes: [[16, 8, 12]], model: 'S/8', importer: absent });
  const ours = result.rows[0];
  assert.ok(ours.gflops! > 0 && ours.max_rel_err! < 1e-5);
  for (const [name, pkg] of [['tfjs-cpu', 'tfjs-backend-cpu'], ['tfjs-wasm', 'tfjs-backend-wasm']] as const) {
    const peer = result.rows.find((r) => r.backend === name)!;
    assert.equal([peer.gflops, peer.ms, peer.margin_pct, peer.ratio, peer.max_rel_err], [null, null, null, null, null]);
    assert.is(peer.skipped, `unavailable: Cannot find package '@tensorflow/tfjs-core-not-installed' (npm install @tensorflow/tfjs-core @tensorflow/${pkg})`);
    assert.is(result.machine.peers[name], peer.skipped);
  }
  const [cpu, , ort, pytorch] = result.dit_forward.rows;
  assert.ok(cpu.ms! > 0 && cpu.max_rel_err === null);
  assert.match(result.dit_forward.weights, /^ditto's seeded random weights/);
  assert.is(ort.skipped, "Cannot find package 'onnxruntime-node-not-installed' (npm install onnxruntime-node)");
  assert.is(pytorch.skipped, 'skipped (--no-torch)');
});

test.run();
