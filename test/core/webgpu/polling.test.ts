// gentle(): Dawn's setImmediate polling is throttled while we wait, and only while we wait.

import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as op from '../../../core/ops.js';
import { gentle } from '../../../core/webgpu/index.js';
import { testWebGpu } from '../../backends.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * What Dawn's bindings do while a promise of theirs is pending: look setImmediate up on the global and
 * re-arm it after every tick. Counts the ticks between `from` and `to` ms after the start.
 */
function pollLikeDawn(from: number, to: number): { stop(): void; ticks(): number } {
  const start = performance.now();
  let ticks = 0, stopped = false;
  const tick = () => {
    if (stopped) return;
    const t = performance.now() - start;
    if (t >= from && t < to) ticks++;
    globalThis.setImmediate(tick);
  };
  globalThis.setImmediate(tick);
  return { stop: () => { stopped = true; }, ticks: () => ticks };
}

test('a plain setImmediate loop spins; under gentle() it ticks about once a millisecond', async () => {
  const free = pollLikeDawn(10, 60);
  await sleep(70);
  free.stop();
  const throttled = pollLikeDawn(10, 60);
  await gentle(sleep(70));
  throttled.stop();
  assert.ok(free.ticks() > 500, `unthrottled: ${free.ticks()} ticks in 50 ms`);
  assert.ok(throttled.ticks() <= 55, `throttled: ${throttled.ticks()} ticks in 50 ms`);
  assert.ok(throttled.ticks() >= 5, `throttled polling must go on: ${throttled.ticks()} ticks`);
});

test('the originals come back after the last wait, also when it fails', async () => {
  const { setImmediate: si, clearImmediate: ci } = globalThis;
  await gentle(async () => {
    assert.is.not(globalThis.setImmediate, si);
    await gentle(sleep(1));
    assert.is.not(globalThis.setImmediate, si, 'an inner wait must not restore while the outer one waits');
  });
  assert.is(globalThis.setImmediate, si);
  assert.is(globalThis.clearImmediate, ci);
  try {
    await gentle(Promise.reject(new Error('lost')));
    assert.unreachable();
  } catch (e) {
    assert.is((e as Error).message, 'lost');
  }
  assert.is(globalThis.setImmediate, si);
});

test('util.promisify(setImmediate) still resolves with its value inside a wait', async () => {
  await gentle(async () => {
    assert.is(await promisify(globalThis.setImmediate)('value'), 'value');
  });
});

test('a deferred callback still runs, with its arguments, and clearImmediate still cancels', async () => {
  const seen: string[] = [];
  await gentle(async () => {
    await sleep(5); // past the spinning phase: setImmediate now defers by a timer
    globalThis.setImmediate((a: string, b: string) => seen.push(a + b), 'x', 'y');
    const cancelled = globalThis.setImmediate(() => seen.push('cancelled'));
    globalThis.clearImmediate(cancelled);
    await sleep(10);
  });
  assert.equal(seen, ['xy']);
});

const gpu = await testWebGpu();

/** CPU seconds the main thread has used (Linux: /proc/self/task/<pid>/stat, in clock ticks of 10 ms). */
function mainThreadCpuS(): number | null {
  try {
    const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime
  } catch {
    return null;
  }
}

if (gpu && mainThreadCpuS() !== null) {
  test('waiting for a long GPU job costs the main thread little CPU', async () => {
    // Enough attention work to keep the GPU (or lavapipe) busy for a few hundred ms.
    const [bh, t, hd] = gpu.adapter.emulated ? [512, 128, 64] : [64, 4096, 64];
    const q = gpu.upload(new Float32Array(bh * t * hd).fill(0.01), [bh, t, hd], 'f32');
    let wall = 0, cpu = 0;
    for (let i = 0; i < 3 && wall < 0.2; i++) {
      const y = op.attention(q, q, q, 0.125); // compiles on the first run, so measure the sync alone
      await gpu.sync();
      const ys = [y, ...Array.from({ length: 5 }, () => op.attention(q, q, q, 0.125))];
      const c0 = mainThreadCpuS()!, w0 = performance.now();
      await gpu.sync();
      wall = (performance.now() - w0) / 1000;
      cpu = mainThreadCpuS()! - c0;
      for (const x of ys) x.dispose();
    }
    q.dispose();
    if (wall < 0.2) return; // a GPU too fast for a 10 ms clock to tell: nothing to measure
    assert.ok(cpu < 0.5 * wall, `the main thread used ${cpu.toFixed(2)} s of CPU in a ${wall.toFixed(2)} s wait`);
  });
}

test.run();
