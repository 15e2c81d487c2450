// bench/timing.ts: the median, and Benchmark.js's samples and margin for sync and async functions.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { benchmark, median } from '../../bench/timing.js';

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
  }
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
