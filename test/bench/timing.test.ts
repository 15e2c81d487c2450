// bench/timing.ts: the median, Benchmark.js's samples and margin for sync and async functions, and
// marginPct, which must give Benchmark.js's margin for samples it did not take.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import Benchmark from 'benchmark';
import { benchmark, marginPct, median } from '../../bench/timing.js';

test('median: the middle value, or the mean of the two middle ones', () => {
  assert.is(median([3, 1, 2]), 2);
  assert.is(median([4, 1, 3, 2]), 2.5);
});

test('benchmark: at least `runs` samples of a sync or an async function, their median and a margin', async () => {
  const spin = () => {
    const end = performance.now() + 60;
    while (performance.now() < end);
  };
  for (const fn of [spin, async () => spin()]) {
    const t = await benchmark('spin', fn, 3);
    assert.ok(t.runs_s.length >= 3);
    assert.is(t.median_s, median(t.runs_s));
    assert.ok(t.median_s >= 0.06 && t.median_s < 0.5, `median ${t.median_s}`);
    assert.ok(Number.isFinite(t.margin_pct) && t.margin_pct >= 0);
    // Benchmark.js's rme is marginPct of its own samples, to the last bit.
    assert.is(marginPct(t.runs_s), t.margin_pct);
  }
});

test('marginPct: Benchmark.js\'s rme of a Benchmark instance\'s own samples, with more than 30 of them too', () => {
  // Benchmark.js's own statistics, on a cheap function timed synchronously; 35 samples take the
  // table's 'infinity' critical value (1.96), below 31 its row for n - 1 degrees of freedom.
  let x = 0;
  for (const minSamples of [5, 35]) {
    const bench = new Benchmark('sum', () => { for (let i = 0; i < 1000; i++) x += i; }, { minSamples, maxTime: 0, minTime: 0.002 });
    bench.run();
    assert.ok(bench.stats.sample.length >= minSamples, `${bench.stats.sample.length} samples`);
    assert.ok(bench.stats.rme > 0);
    assert.is(marginPct(bench.stats.sample), bench.stats.rme);
  }
  assert.ok(x > 0);
});

test('marginPct: hand-computed values; fewer than 2 samples give NaN', () => {
  // [1..5]: mean 3, sd sqrt(2.5), sem sqrt(0.5), t(4) = 2.776: 2.776 * 0.70711 / 3 * 100 = 65.43%.
  assert.ok(Math.abs(marginPct([1, 2, 3, 4, 5]) - (2.776 * Math.sqrt(0.5)) / 3 * 100) < 1e-12);
  // Two samples 9 and 11: sd sqrt(2), sem 1, t(1) = 12.706: 127.06%. The unit does not matter.
  assert.ok(Math.abs(marginPct([9, 11]) - 127.06) < 1e-9);
  assert.ok(Math.abs(marginPct([0.009, 0.011]) - 127.06) < 1e-9);
  // 31 samples (30 degrees of freedom) take 2.042, 32 take 1.96.
  const alternating = (n: number): number[] => Array.from({ length: n }, (_, i) => (i % 2 ? 11 : 9));
  for (const [n, t] of [[31, 2.042], [32, 1.96]]) {
    const xs = alternating(n);
    const mean = xs.reduce((a, b) => a + b) / n;
    const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
    assert.ok(Math.abs(marginPct(xs) - (t * sd) / Math.sqrt(n) / mean * 100) < 1e-9, `n = ${n}`);
  }
  assert.is(marginPct([5, 5, 5]), 0);
  assert.ok(Number.isNaN(marginPct([])));
  assert.ok(Number.isNaN(marginPct([3])));
});

test('benchmark: a failing call rejects with its error', async () => {
  let calls = 0;
  const failing = () => {
    if (++calls === 2) throw new Error('boom');
  };
  try {
    await benchmark('fails', failing, 3);
    assert.unreachable();
  } catch (e) {
    assert.is((e as Error).message, 'boom');
  }
});

test.run();
