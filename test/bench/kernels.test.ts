// `ditto bench kernels` as CI runs it: a --quick-style run, cut to one matmul and one attention shape
// and 2 runs so it stays within seconds on lavapipe, on the test suite's shared WebGPU backend. It
// checks the JSON the command prints and that our kernels agree with the CPU backend. Without an
// adapter it is skipped (see test/backends.ts), except for the message a user then gets.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runKernelBench, type KernelRow } from '../../bench/kernels.js';
import type { Importer } from '../../bench/peers/peer.js';
import { formatKernelTable } from '../../cli/bench-tables.js';
import { formatJson } from '../../cli/json.js';
import { UserError } from '../../core/errors.js';
import { testWebGpu } from '../backends.js';

const gpu = await testWebGpu();

test('without an adapter: one line saying how to install a Vulkan driver, as a UserError', async () => {
  const noAdapter = async () => ({ backend: null, reason: 'no WebGPU adapter found' } as const);
  try {
    await runKernelBench({ runs: 1, quick: true, openGpu: noAdapter });
    assert.unreachable('should have thrown');
  } catch (e) {
    assert.instance(e, UserError);
    const message = (e as Error).message;
    assert.not.match(message, '\n');
    assert.match(message, 'apt-get install');
    assert.match(message, 'mesa-vulkan-drivers');
    assert.match(message, 'bookworm-backports');
  }
});

if (gpu) {
  test('a quick run: the JSON shape, and our kernels agree with the CPU', async () => {
    const result = await runKernelBench({ runs: 2, quick: true, matmul: [[512, 384, 1152]], attention: [[12, 256, 64]], gpu });
    // What --json prints: NaN and undefined must not hide in it.
    const json = JSON.parse(JSON.stringify(result)) as typeof result;
    assert.type(json.device.name, 'string');
    assert.type(json.device.emulated, 'boolean');
    assert.type(json.device.timestamps, 'boolean');
    assert.type(json.device.peers['tfjs-webgpu'], 'string');
    assert.type(json.device.peers.gpujs, 'string');

    const expected = [
      ...['webgpu', 'tfjs-webgpu', 'gpujs', 'cpu'].map((b) => `matmul 512x384x1152 ${b}`),
      ...['webgpu', 'webgpu-unfused', 'tfjs-webgpu', 'gpujs', 'cpu'].map((b) => `attention 12,256,64 ${b}`),
    ];
    const key = (r: KernelRow) => `${r.kernel} ${r.kernel === 'matmul' ? `${r.m}x${r.k}x${r.n}` : `${r.bh},${r.tokens},${r.head_dim}`} ${r.backend}`;
    assert.equal(json.rows.map(key).sort(), expected.sort());

    for (const r of json.rows) {
      if (r.skipped) {
        // A peer may be unavailable on some machine; ours never is, and tfjs-webgpu is a devDependency, installed here.
        assert.ok(r.backend === 'gpujs', `${key(r)} skipped: ${r.skipped}`);
        console.log(`bench kernels: ${key(r)} skipped: ${r.skipped}`);
        assert.is(r.ms, null);
        assert.is(r.margin_pct, null);
        continue;
      }
      assert.ok(r.ms! > 0 && r.gflops! > 0, key(r));
      assert.ok(r.runs >= 2, key(r));
      assert.ok(Number.isFinite(r.margin_pct) && r.margin_pct! >= 0, `${key(r)}: margin ${r.margin_pct}`);
      assert.ok(Number.isFinite(r.max_rel_err), key(r));
      assert.type(r.timing, 'string');
      if (r.backend === 'webgpu' || r.backend === 'webgpu-unfused' || r.backend === 'cpu') {
        assert.ok(r.max_rel_err! < 1e-3, `${key(r)}: max rel err ${r.max_rel_err}`);
      }
      if (r.backend === 'webgpu') assert.is(r.timing, gpu.adapter.timestamps ? 'timestamp' : 'wall-sync');
      if (r.backend === 'cpu') assert.is(r.timing, 'wall');
    }
    assert.ok(json.rows.filter((r) => r.backend === 'gpujs').every((r) => typeof r.mode === 'string'), 'gpujs rows say their mode');

    const table = formatKernelTable(result);
    assert.match(table, 'webgpu/tfjs');
    assert.match(table, 'fused/unfused');
    assert.match(table, '512x384x1152');
    assert.match(table, /512x384x1152\s+[\d.]+ \([\d.]+ ms ±[\d.]+%\)/);
    // --json: the adapter report's camelCase fields come out snake_case.
    const printed = JSON.parse(formatJson(result));
    assert.equal(printed.device.subgroup_sizes, result.device.subgroupSizes);
    assert.is(printed.device.subgroupSizes, undefined);
  });

  test('without the peers installed: our rows are measured, theirs say what to install', async () => {
    const absent: Importer = (specifier) => import(`${specifier}-not-installed`);
    const result = await runKernelBench({ runs: 1, matmul: [[64, 48, 40]], attention: [[2, 16, 8]], gpu, importer: absent });
    const hints = { 'tfjs-webgpu': 'npm install @tensorflow/tfjs-core @tensorflow/tfjs-backend-webgpu', gpujs: 'npm install gpu.js' } as Record<string, string>;
    for (const r of result.rows) {
      if (r.backend in hints) {
        assert.ok(r.skipped?.startsWith('unavailable: Cannot find package') && r.skipped.endsWith(`(${hints[r.backend]})`), `${r.backend}: ${r.skipped}`);
        assert.is(r.gflops, null);
      } else {
        assert.ok(r.gflops! > 0 && r.max_rel_err! < 1e-3, `${r.backend} ${r.kernel}`);
        // One timed run has no spread, so no margin: null, not a NaN in the JSON. (Fused and unfused
        // attention still take one run in each of their alternating blocks.)
        if (r.runs < 2) assert.is(r.margin_pct, null, `${r.backend} ${r.kernel}`);
        else assert.ok(Number.isFinite(r.margin_pct), `${r.backend} ${r.kernel}: ${r.runs} runs, margin ${r.margin_pct}`);
      }
    }
    assert.is(result.device.peers.gpujs, result.rows.find((r) => r.backend === 'gpujs')!.skipped);
    assert.match(formatKernelTable(result), `note: gpujs matmul 64x48x40: unavailable: Cannot find package 'gpu.js-not-installed' (npm install gpu.js)`);
  });
} else {
  // testWebGpu printed why (once per run); say what that skips here.
  console.log('bench kernels: the quick run is skipped (no WebGPU adapter)');
}

test.run();
