// bench/forward.ts: the timed call is the model's own prediction on seeded noise, read back; the
// report holds every run, their median and Benchmark.js's margin of error; a failing run is an error.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runForwardBench } from '../../bench/forward.js';
import { median } from '../../bench/timing.js';
import { CpuBackend } from '../../core/cpu/backend.js';
import type { Tensor } from '../../core/tensor.js';
import type { ClassModel } from '../../models/class-model.js';
import { openModel } from '../../models/pretrained.js';

const backend = new CpuBackend();
const dit = openModel(undefined, backend).model;

test('each run is one predict on [batch, C, H, W] at time 500, labels cycling the classes, read back', async () => {
  const calls: { shape: readonly number[]; t: readonly number[]; y: readonly number[] }[] = [];
  let reads = 0;
  const spy: ClassModel = {
    info: dit.info,
    backend,
    predict: (x, t, y) => {
      calls.push({ shape: x.shape, t, y });
      const out = dit.predict(x, t, y);
      const read = out.read.bind(out);
      (out as Tensor).read = async () => { reads++; return read(); };
      return out;
    },
  };
  const r = await runForwardBench({ model: spy, name: 'mnist-dit', batch: 12, runs: 3, warmup: 1 });
  // One warm-up call, then at least one per sample: Benchmark.js packs calls faster than ~50 ms into
  // samples of several, so a fast machine makes more calls than samples. Every call is read back.
  assert.ok(calls.length >= 4, `${calls.length} calls`);
  assert.is(reads, calls.length);
  for (const call of calls) {
    assert.equal(call.shape, [12, 1, 28, 28]);
    assert.equal(call.t, new Array(12).fill(500));
    assert.equal(call.y, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
  }
  assert.equal([r.model, r.backend, r.batch], ['mnist-dit', 'cpu', 12]);
  assert.ok(r.runs_s.length >= 3, `${r.runs_s.length} samples`);
  assert.is(r.median_s, median(r.runs_s));
  assert.ok(Number.isFinite(r.margin_pct) && r.margin_pct >= 0, `margin ${r.margin_pct}`);
});

test('a run that fails ends the benchmark with its error', async () => {
  let calls = 0;
  const failing: ClassModel = {
    info: dit.info,
    backend,
    predict: (x, t, y) => {
      const out = dit.predict(x, t, y);
      if (++calls === 3) (out as Tensor).read = async () => { throw new Error('device lost'); };
      return out;
    },
  };
  await runForwardBench({ model: failing, name: 'x', batch: 1, runs: 5, warmup: 1 }).then(
    () => assert.unreachable('resolved'),
    (e: Error) => assert.is(e.message, 'device lost'),
  );
});

test.run();
