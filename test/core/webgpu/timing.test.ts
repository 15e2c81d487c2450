// core/webgpu/timing.ts's profileDispatches: every dispatch of a run is timed and named, in order, by
// timestamps or by replay, and profiling changes no result.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as op from '../../../core/ops.js';
import { profileDispatches } from '../../../core/webgpu/index.js';
import { testWebGpu } from '../../backends.js';

const gpu = await testWebGpu();

if (gpu) {
  const x = gpu.upload(Float32Array.from({ length: 64 * 64 }, (_, i) => Math.sin(i)), [64, 64], 'f32');
  // A linear, a GELU and a LayerNorm: three dispatches of three kernel families.
  const run = async () => {
    const y = op.layerNorm(op.gelu(op.linear(x, x)), 1e-5);
    const out = await y.read();
    return out as Float32Array;
  };
  const expected = await run();

  for (const wallTime of [false, true]) {
    test(`${wallTime ? 'wall (replayed)' : 'timestamps where the adapter has them'}: each dispatch named in order, timed, results unchanged`, async () => {
      let result: Float32Array | null = null;
      const p = await profileDispatches(gpu, async () => { result = await run(); }, { wallTime });
      assert.is(p.method, wallTime || !gpu.adapter.timestamps ? 'wall' : 'timestamp');
      assert.equal(p.dispatches.map((d) => d.key.split('|')[0].replace(/\..*/, '')), ['matmul', 'unary', 'layerNorm']);
      for (const d of p.dispatches) assert.ok(d.ms >= 0 && d.ms < 10_000, `${d.key}: ${d.ms} ms`);
      assert.equal(result, expected);
      assert.is(gpu.profiler, null);
      // Recording goes back to one pass for many dispatches: an unprofiled run still gives the same.
      assert.equal(await run(), expected);
    });
  }
}

test.run();
