// The benchmark tables on fixed results: what a person reads, including rows a missing peer left empty.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { CacheBenchResult } from '../../bench/cache.js';
import type { CpuBenchResult } from '../../bench/cpu.js';
import type { KernelBenchResult } from '../../bench/kernels.js';
import type { ProfileBenchResult } from '../../bench/profile.js';
import { formatCacheTable, formatCpuTable, formatKernelTable, formatProfileTable } from '../../cli/bench-tables.js';

const mm = { kernel: 'matmul' as const, m: 512, k: 384, n: 1152 };
const cpu: CpuBenchResult = {
  machine: {
    cores: 2, threads: 2, node: 'v20.0.0', kernels: 'simd (f32x4 mul+add)',
    peers: {
      'tfjs-cpu': '@tensorflow/tfjs-backend-cpu 4.22.0, 1 thread', 'tfjs-wasm': '@tensorflow/tfjs-backend-wasm 4.22.0, SIMD, 1 thread',
      onnxruntime: 'onnxruntime-node 1.30.0', pytorch: 'torch 1.13.0',
    },
  },
  rows: [
    { ...mm, backend: 'cpu', threads: 2, gflops: 90.6, ms: 5, margin_pct: 1.23, ratio: null, max_rel_err: 1.2e-7 },
    { ...mm, backend: 'cpu', threads: 1, gflops: 45.3, ms: 10, margin_pct: 0.5, ratio: null, max_rel_err: 1.2e-7 },
    { ...mm, backend: 'tfjs-wasm', threads: 1, gflops: 37.75, ms: 12, margin_pct: 2, ratio: 10 / 12, max_rel_err: 2.5e-7 },
  ],
  dit_forward: {
    model: 'DiT-S/2', batch: 2, gflop: 24.2, weights: 'tools/export_dit_onnx.py (1.13.0): seeded, shared by every row',
    rows: [
      { backend: 'cpu', threads: 2, ms: 540, margin_pct: 3.1, ratio: null, max_rel_err: 2e-6 },
      { backend: 'webgpu', threads: 0, ms: 1000, margin_pct: 1, ratio: 0.54, max_rel_err: 3e-6, on: 'lavapipe' },
      { backend: 'onnxruntime', threads: 2, ms: 110, margin_pct: 4.56, ratio: 540 / 110, max_rel_err: 1e-6, on: 'onnxruntime-node 1.30.0' },
      { backend: 'pytorch', threads: 2, ms: 180, margin_pct: 2, ratio: 3, max_rel_err: 0, on: 'torch 1.13.0' },
    ],
  },
};

test('cpu: the peers, one aligned line per matmul row and per forward backend, with margins and ratios', () => {
  const lines = formatCpuTable(cpu).split('\n');
  assert.is(lines[0], 'CPU benchmark: 2 cores, 2 threads, Node v20.0.0, simd (f32x4 mul+add) kernels');
  assert.is(lines[1], 'peers: tfjs-cpu = @tensorflow/tfjs-backend-cpu 4.22.0, 1 thread; tfjs-wasm = @tensorflow/tfjs-backend-wasm 4.22.0, SIMD, 1 thread; onnxruntime = onnxruntime-node 1.30.0; pytorch = torch 1.13.0');
  const header = lines.findIndex((l) => l.startsWith('matmul M x K x N'));
  assert.match(lines[header], /backend\s+threads\s+GFLOP\/s\s+median ms\s+ditto\/row\s+max rel err$/);
  assert.match(lines[header + 2], /^512x384x1152\s+ditto cpu\s+2\s+90\.60\s+5\.00 ±1\.2%\s+1\.2e-7$/);
  assert.match(lines[header + 4], /^512x384x1152\s+tfjs-wasm\s+1\s+37\.75\s+12\.00 ±2\.0%\s+0\.83\s+2\.5e-7$/);
  assert.ok(lines.includes('DiT-S/2 forward, batch 2 (24.2 GFLOP), read-back included; weights: tools/export_dit_onnx.py (1.13.0): seeded, shared by every row'));
  assert.ok(lines.some((l) => /^onnxruntime\s+2\s+0\.110 ±4\.6%\s+220\.00\s+4\.91\s+1\.0e-6\s+onnxruntime-node 1\.30\.0$/.test(l)), lines.join('\n'));
  assert.ok(lines.some((l) => /^ditto webgpu\s+-\s+1\.000 ±1\.0%/.test(l)));
});

test('cpu without the peers: dashes where their numbers would be, and the reasons as notes', () => {
  const reason = "unavailable: Cannot find package '@tensorflow/tfjs-core' (npm install @tensorflow/tfjs-core @tensorflow/tfjs-backend-wasm)";
  const text = formatCpuTable({
    ...cpu,
    rows: [cpu.rows[1], { ...cpu.rows[2], gflops: null, ms: null, margin_pct: null, ratio: null, max_rel_err: null, skipped: reason }],
    dit_forward: {
      ...cpu.dit_forward,
      rows: [cpu.dit_forward.rows[0], { backend: 'pytorch', threads: 2, ms: null, margin_pct: null, ratio: null, max_rel_err: null, skipped: 'skipped (--no-torch)' }],
    },
  });
  assert.match(text, /\n512x384x1152\s+tfjs-wasm\s+1\s+-\s+-\s+-\n/);
  assert.match(text, /\npytorch\s+2\s+-\s+-\s+-\n/);
  assert.ok(text.includes(`note: tfjs-wasm matmul 512x384x1152: ${reason}`));
  assert.ok(text.includes('note: pytorch forward: skipped (--no-torch)'));
});

const row = { runs: 10, timing: 'timestamp' as const, max_rel_err: 1e-6, margin_pct: 1.23 };
const kernels: KernelBenchResult = {
  device: {
    vendor: 'mesa', architecture: 'software', device: 'llvmpipe', description: '', emulated: true, timestamps: true,
    subgroupSizes: [8, 8], name: 'llvmpipe', node: 'v20.0.0', cores: 2, cpu_threads: 2,
    peers: { 'tfjs-webgpu': 'tfjs 4.22.0', gpujs: 'unavailable: Cannot find package \'gpu.js\' (npm install gpu.js)' },
  },
  runs: 10,
  rows: [
    { ...row, kernel: 'matmul', m: 512, k: 384, n: 1152, backend: 'webgpu', gflops: 56, ms: 8 },
    { ...row, kernel: 'matmul', m: 512, k: 384, n: 1152, backend: 'tfjs-webgpu', gflops: 4.67, ms: 96, margin_pct: 0.5, timing: 'tfjs-kernelMs', max_rel_err: 4.7e-6 },
    { kernel: 'matmul', m: 512, k: 384, n: 1152, backend: 'gpujs', gflops: null, ms: null, margin_pct: null, max_rel_err: null, timing: null, runs: 0, mode: 'unavailable', skipped: 'unavailable: no gpu.js' },
    { ...row, kernel: 'matmul', m: 512, k: 384, n: 1152, backend: 'cpu', gflops: 7.9, ms: 57, margin_pct: 12.46, runs: 4, timing: 'wall' },
    { ...row, kernel: 'attention', bh: 12, tokens: 256, head_dim: 64, backend: 'webgpu', gflops: 58, ms: 1.2 },
    { ...row, kernel: 'attention', bh: 12, tokens: 256, head_dim: 64, backend: 'webgpu-unfused', gflops: 21, ms: 3.3, margin_pct: null },
  ],
};

test('kernels: margins next to medians, ratios, the error row, capped runs starred, skipped peers noted', () => {
  const lines = formatKernelTable(kernels).split('\n');
  assert.is(lines[2], "GFLOP/s (median ms ±margin) over 10 runs after warm-up; margin: of the mean at 95% (Student's t, as Benchmark.js); * = runs capped to fit the time budget (see runs in --json)");
  const matmul = lines.find((l) => l.startsWith('512x384x1152'))!;
  assert.match(matmul, /^512x384x1152\s+56\.00 \(8\.00 ms ±1\.2%\)\s+4\.67 \(96\.00 ms ±0\.5%\)\s+skipped\s+7\.90 \(57\.00 ms ±12\.5%\)\*\s+11\.99x$/);
  // A cell without a margin (a single run) shows none.
  assert.match(lines.find((l) => l.startsWith('(12, 256, 64)'))!, /^\(12, 256, 64\)\s+58\.00 \(1\.20 ms ±1\.2%\)\s+21\.00 \(3\.30 ms\)\s/);
  assert.match(lines.find((l) => l.startsWith('max rel err vs cpu'))!, /<= 1\.0e-6\s+<= 4\.7e-6\s+-\s+<= 1\.0e-6$/);
  assert.match(lines.find((l) => l.startsWith('(12, 256, 64)'))!, /2\.76x\s+-$/);
  assert.ok(lines.includes('note: gpujs matmul 512x384x1152: unavailable: no gpu.js'));
  assert.ok(lines.some((l) => l.startsWith('timing: webgpu timestamp, tfjs-webgpu tfjs-kernelMs, cpu wall')));
});

test('cache: one aligned row per method and schedule; an ablation row names its calibration runs, a searched one its file', () => {
  const base = { schedule: 'taylorseer', full_steps: [0, 1, 2, 7, 12, 17, 22, 27, 32, 37, 42, 47], flops_speedup: 4.17, latency_speedup: 4.36, psnr: 30.56, ssim: 0.977, rel_l2: 0.0748, seconds: 10 };
  const cache: CacheBenchResult = {
    model: 'm', backend: 'cpu', seeds: [0, 1, 2], classes: [0, 1, 2], steps: 50, cfg_scale: 3, ssim: 'Wang', reference_seconds: 44.3, reference_runs_seconds: [44.1, 44.5],
    rows: [
      { ...base, method: 'fora', interval: 5 },
      { ...base, method: 'l2p', schedule: 'paper', interval: 10, calibration_runs: 5, psnr: 29.69 },
      { ...base, method: 'l2p', schedule: 'results/m-l2p-12.json', interval: null, psnr: 33.1 },
    ],
  };
  const lines = formatCacheTable(cache).split('\n');
  assert.is(lines[0], '3 samples (seeds 0..2), 50 steps, cfg 3, cpu; reference 44.30 s (mean of 2 runs)');
  assert.match(lines[1], /^method\s+schedule\s+full\s+FLOPs x\s+latency x\s+PSNR dB\s+SSIM\s+rel L2$/);
  assert.match(lines[3], /^fora\s+taylorseer N=5\s+12\s+4\.17\s+4\.36\s+30\.56\s+0\.977\s+0\.0748$/);
  assert.match(lines[4], /^l2p\[5\]\s+paper N=10\s+12\s+4\.17\s+4\.36\s+29\.69\s+0\.977\s+0\.0748$/);
  assert.match(lines[5], /^l2p\s+searched \(m-l2p-12\.json\)\s+12\s+4\.17\s+4\.36\s+33\.10/);
  assert.is(lines[3].length, lines[4].length);
  assert.is(lines[6], 'SSIM: Wang');
  // One strip per distinct schedule, in the order the rows first use them.
  assert.equal(lines.slice(7), [
    'schedules (# runs the model, . is forecast):',
    '  taylorseer N=5            ###....#....#....#....#....#....#....#....#....#..',
    '  paper N=10                ###....#....#....#....#....#....#....#....#....#..',
    '  searched (m-l2p-12.json)  ###....#....#....#....#....#....#....#....#....#..',
  ]);
});

test('profile: the forward and the dispatches\' sum, how they were timed, one row per kernel', () => {
  const r: ProfileBenchResult = {
    model: 'DiT-S/2', backend: 'webgpu', batch: 2, runs: 3, timing: 'timestamp', forward_s: 0.4123, dispatch_ms: 380.25, dispatches: 150,
    rows: [{ kernel: 'matmul.subgroup', dispatches: 65, ms: 290.5, pct: 76.4 }, { kernel: 'layerNorm', dispatches: 25, ms: 9.75, pct: 2.56 }],
  };
  const lines = formatProfileTable(r).split('\n');
  assert.is(lines[0], 'DiT-S/2, batch 2, webgpu: forward 412.3 ms unprofiled (median of 3); 150 dispatches sum to 380.3 ms (each dispatch\'s median over 3 profiled forwards)');
  assert.is(lines[1], 'timing: GPU timestamps, one compute pass per dispatch');
  assert.match(lines[2], /^kernel\s+dispatches\s+total ms\s+% of forward$/);
  assert.match(lines[4], /^matmul\.subgroup\s+65\s+290\.50\s+76\.4%$/);
  assert.match(lines[5], /^layerNorm\s+25\s+9\.75\s+2\.6%$/);
});

test.run();
