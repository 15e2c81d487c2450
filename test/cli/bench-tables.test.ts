// The benchmark tables on fixed results: what a person reads, including rows a missing peer left empty.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { CacheBenchResult } from '../../bench/cache.js';
import type { CpuBenchResult } from '../../bench/cpu.js';
import type { KernelBenchResult } from '../../bench/kernels.js';
import type { ProfileBenchResult } from '../../bench/profile.js';
import { formatCacheTable, formatCpuTable, formatKernelTable, formatProfileTable } from '../../cli/bench-tables.js';

const cpu: CpuBenchResult = {
  machine: { cores: 2, threads: 2, node: 'v20.0.0', kernels: 'simd (f32x4 mul+add)', peers: { 'tfjs-cpu': '@tensorflow/tfjs-backend-cpu 4.22.0' } },
  rows: [
    { kernel: 'matmul', backend: 'cpu', m: 512, k: 384, n: 1152, gflops: 8.69, ms: 52.1, max_rel_err: 1.2e-7 },
    { kernel: 'matmul', backend: 'cpu-ts', m: 512, k: 384, n: 1152, gflops: 2.9, ms: 156, max_rel_err: 1e-7 },
    { kernel: 'matmul', backend: 'tfjs-cpu', m: 512, k: 384, n: 1152, gflops: 0.98, ms: 462, max_rel_err: 2.5e-7 },
    { kernel: 'matmul', backend: 'cpu', m: 512, k: 1536, n: 384, gflops: 8.85, ms: 51.2, max_rel_err: 3e-7 },
    { kernel: 'matmul', backend: 'cpu-ts', m: 512, k: 1536, n: 384, gflops: 1.77, ms: 256, max_rel_err: 1e-7 },
    { kernel: 'matmul', backend: 'tfjs-cpu', m: 512, k: 1536, n: 384, gflops: 0.87, ms: 520, max_rel_err: 2e-7 },
  ],
  dit_forward: {
    model: 'DiT-S/2', batch: 2, gflop: 24.2, ours_s: 2.93,
    webgpu: { seconds: 0.58, adapter: 'lavapipe' },
    torch: { seconds: 0.184, version: '1.13.0', threads: 2, ratio: 2.93 / 0.184 },
  },
};

test('cpu: one aligned row per shape with the ratios (simd / ts, ours / tfjs), then the forward against PyTorch and WebGPU', () => {
  const lines = formatCpuTable(cpu).split('\n');
  assert.is(lines[0], 'CPU benchmark: 2 cores, 2 threads, Node v20.0.0, simd (f32x4 mul+add) kernels; tfjs-cpu = @tensorflow/tfjs-backend-cpu 4.22.0');
  const header = lines.findIndex((l) => l.startsWith('matmul M x K x N'));
  assert.match(lines[header], /ditto simd GFLOP\/s\s+ditto ts GFLOP\/s\s+simd \/ ts\s+tfjs-cpu GFLOP\/s/);
  const [first, second] = [lines[header + 2], lines[header + 3]];
  assert.match(first, /^512x384x1152\s+8\.69\s+2\.90\s+3\.0x\s+0\.98\s+8\.9x\s+1\.2e-7\s+2\.5e-7$/);
  assert.match(second, /^512x1536x384\s+8\.85\s+1\.77\s+5\.0x\s+0\.87\s+10\.2x\s+3\.0e-7\s+2\.0e-7$/);
  // Numbers right-aligned: the columns end at the same place on every row.
  assert.is(first.indexOf('8.9x') + 4, second.indexOf('10.2x') + 5);
  assert.ok(lines.includes('DiT-S/2 forward, batch 2 (24.2 GFLOP): ditto cpu 2.930 s, PyTorch 1.13.0 (2 threads) 0.184 s, ratio 15.92x'));
  assert.ok(lines.includes('  ditto webgpu on lavapipe: 0.580 s'));
});

test('cpu without tfjs and torch: dashes where its numbers would be, and the reasons', () => {
  const reason = "unavailable: Cannot find package '@tensorflow/tfjs-core' (npm install @tensorflow/tfjs-core @tensorflow/tfjs-backend-cpu)";
  const text = formatCpuTable({
    ...cpu,
    machine: { ...cpu.machine, kernels: 'ts', peers: { 'tfjs-cpu': reason } },
    rows: [cpu.rows[0], { ...cpu.rows[2], gflops: null, ms: null, max_rel_err: null, skipped: reason }],
    dit_forward: { ...cpu.dit_forward, webgpu: { unavailable: 'no WebGPU adapter found' }, torch: { unavailable: 'skipped (--no-torch)' } },
  });
  assert.ok(text.includes(`tfjs-cpu = ${reason}`));
  assert.match(text, /\n512x384x1152\s+8\.69\s+-\s+-\s+-\s+-\s+1\.2e-7\s+-\n/);
  assert.match(text, /ditto cpu 2\.930 s; PyTorch: skipped \(--no-torch\)/);
  assert.match(text, /ditto webgpu: unavailable: no WebGPU adapter found/);
});

const row = { runs: 10, timing: 'timestamp' as const, max_rel_err: 1e-6 };
const kernels: KernelBenchResult = {
  device: {
    vendor: 'mesa', architecture: 'software', device: 'llvmpipe', description: '', emulated: true, timestamps: true,
    subgroupSizes: [8, 8], name: 'llvmpipe', node: 'v20.0.0', cores: 2, cpu_threads: 2,
    peers: { 'tfjs-webgpu': 'tfjs 4.22.0', gpujs: 'unavailable: Cannot find package \'gpu.js\' (npm install gpu.js)' },
  },
  runs: 10,
  rows: [
    { ...row, kernel: 'matmul', m: 512, k: 384, n: 1152, backend: 'webgpu', gflops: 56, ms: 8 },
    { ...row, kernel: 'matmul', m: 512, k: 384, n: 1152, backend: 'tfjs-webgpu', gflops: 4.67, ms: 96, timing: 'tfjs-kernelMs', max_rel_err: 4.7e-6 },
    { kernel: 'matmul', m: 512, k: 384, n: 1152, backend: 'gpujs', gflops: null, ms: null, max_rel_err: null, timing: null, runs: 0, mode: 'unavailable', skipped: 'unavailable: no gpu.js' },
    { ...row, kernel: 'matmul', m: 512, k: 384, n: 1152, backend: 'cpu', gflops: 7.9, ms: 57, runs: 4, timing: 'wall' },
    { ...row, kernel: 'attention', bh: 12, tokens: 256, head_dim: 64, backend: 'webgpu', gflops: 58, ms: 1.2 },
    { ...row, kernel: 'attention', bh: 12, tokens: 256, head_dim: 64, backend: 'webgpu-unfused', gflops: 21, ms: 3.3 },
  ],
};

test('kernels: ratios, the error row, capped runs starred, skipped peers noted', () => {
  const lines = formatKernelTable(kernels).split('\n');
  const matmul = lines.find((l) => l.startsWith('512x384x1152'))!;
  assert.match(matmul, /^512x384x1152\s+56\.00 \(8\.00 ms\)\s+4\.67 \(96\.00 ms\)\s+skipped\s+7\.90 \(57\.00 ms\)\*\s+11\.99x$/);
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
  assert.is(lines.at(-1), 'SSIM: Wang');
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
