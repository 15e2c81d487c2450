// The WebGPU backend's machinery: the buffer pool, the pipeline cache, recording and reading back,
// timing, disposal, and the errors that must come out as clear messages.

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as op from '../../../core/ops.js';
import { tidy } from '../../../core/tensor.js';
import { MAX_IN_FLIGHT } from '../../../core/webgpu/backend.js';
import { createWebGpuBackend, describeAdapter, timeOp } from '../../../core/webgpu/index.js';
import { sizeClass } from '../../../core/webgpu/pool.js';
import { testWebGpu } from '../../backends.js';

const gpu = await testWebGpu();

test('size classes: powers of two split in quarters, at most 25% over', () => {
  assert.equal([1, 256, 257, 320, 321, 1000, 1024, 1025].map(sizeClass), [256, 256, 320, 320, 384, 1024, 1024, 1280]);
  for (let bytes = 1; bytes < 1e7; bytes = Math.ceil(bytes * 1.37)) {
    const c = sizeClass(bytes);
    assert.ok(c >= bytes && (bytes <= 256 || c <= bytes * 1.25), `${bytes} -> ${c}`);
  }
});

if (gpu) {
  const up = (data: number[], shape: number[]) => gpu.upload(Float32Array.from(data), shape, 'f32');

  test('adapter report', () => {
    const a = gpu.adapter;
    assert.type(a.emulated, 'boolean');
    assert.ok(describeAdapter(a).length > 0);
    // lavapipe and SwiftShader must be recognised: --backend auto takes them only for batches of 2 or more.
    if (/llvmpipe|lavapipe|swiftshader/i.test(`${a.device} ${a.description}`)) assert.ok(a.emulated);
  });

  test('a released buffer is reused by the next tensor of its size class', async () => {
    const x = up([1, 2, 3, 4], [4]);
    const y = op.add(x, x);
    await y.read();
    const before = gpu.stats();
    y.dispose();
    assert.is(gpu.stats().pooledBytes, before.pooledBytes + 256);
    const z = op.mul(x, x); // same size: takes y's buffer
    const after = gpu.stats();
    assert.is(after.buffersCreated, before.buffersCreated);
    assert.is(after.buffersReused, before.buffersReused + 1);
    assert.equal(Array.from(await z.read()), [1, 4, 9, 16]);
  });

  test('tidy returns intermediates to the pool', async () => {
    const x = up([1, 2, 3], [3]);
    const live = gpu.stats().liveBytes;
    const y = tidy(() => op.add(op.mul(x, x), op.mul(x, x)));
    assert.is(gpu.stats().liveBytes, live + 256, 'only the result stays live');
    assert.equal(Array.from(await y.read()), [2, 8, 18]);
  });

  test('uploading into a buffer released in the same recording waits for its readers', async () => {
    // y = x + 1 is recorded (not submitted); x is released; the upload takes x's buffer, the only one
    // of its size class (1001 floats). writeBuffer runs before unsubmitted work, so without the
    // flush y would see the new data.
    const x = gpu.upload(new Float32Array(1001).fill(1), [1001], 'f32');
    const y = op.add(x, up([1], [1]));
    x.dispose();
    const submits = gpu.stats().submits;
    const z = gpu.upload(new Float32Array(1001).fill(100), [1001], 'f32');
    assert.is(gpu.stats().submits, submits + 1, 'flushed');
    assert.ok((await y.read()).every((v) => v === 2));
    assert.ok((await z.read()).every((v) => v === 100));
  });

  test('an upload takes a buffer the recording has not released, where the pool has one, and needs no flush', async () => {
    // Tensors of 777 floats, a size class no other test uses.
    const fill = (v: number) => gpu.upload(new Float32Array(777).fill(v), [777], 'f32');
    const old = [fill(1), fill(1), fill(1)];
    for (const t of old) t.dispose();
    await op.gelu(up([1], [1])).read(); // a submit: the three are now released in an earlier recording
    const x = fill(2);
    const y = op.add(x, x);
    x.dispose(); // released in this recording, and last on the free list
    const submits = gpu.stats().submits;
    const z = fill(5);
    assert.is(gpu.stats().submits, submits, 'no flush');
    assert.ok((await y.read()).every((v) => v === 4));
    assert.ok((await z.read()).every((v) => v === 5));
  });

  test('the pipeline cache compiles a shape once', async () => {
    const a = up([1, 2, 3, 4, 5, 6, 7], [7]);
    await op.gelu(a).read();
    const before = gpu.stats();
    await op.gelu(a).read();
    const after = gpu.stats();
    assert.is(after.pipelinesCompiled, before.pipelinesCompiled);
    assert.is(after.pipelineCacheHits, before.pipelineCacheHits + 1);
    await op.gelu(up([1, 2, 3], [3])).read(); // another size: another pipeline
    assert.is(gpu.stats().pipelinesCompiled, before.pipelinesCompiled + 1);
  });

  test('ops are recorded and submitted together at the read', async () => {
    const x = up([1, 2, 3], [3]);
    const submits = gpu.stats().submits;
    let y = x;
    for (let i = 0; i < 10; i++) y = op.add(y, x);
    assert.is(gpu.stats().submits, submits, 'nothing submitted while recording');
    assert.equal(Array.from(await y.read()), [11, 22, 33]);
    assert.is(gpu.stats().submits, submits + 1);
  });

  test('throttle holds the submitted, unfinished batches to MAX_IN_FLIGHT', async () => {
    const x = up([1, 2, 3], [3]);
    let y = op.add(x, x);
    const waits = gpu.stats().throttleWaits;
    let before = 0;
    // 64 dispatches make one batch: 3 * MAX_IN_FLIGHT batches, a throttle after each, as a loop does.
    for (let round = 0; round < 3 * MAX_IN_FLIGHT; round++) {
      for (let i = 0; i < 64; i++) {
        const next = op.add(y, x);
        y.dispose();
        y = next;
      }
      before = Math.max(before, gpu.stats().inFlight);
      await gpu.throttle();
      assert.ok(gpu.stats().inFlight <= MAX_IN_FLIGHT, `${gpu.stats().inFlight} batches in flight after throttle()`);
    }
    // Nothing shrinks the count but a wait, so the bound was reached: throttle had to wait.
    assert.is(before, MAX_IN_FLIGHT + 1);
    assert.ok(gpu.stats().throttleWaits > waits);
    assert.equal(Array.from(await y.read()), [1, 2, 3].map((v) => v * (2 + 3 * MAX_IN_FLIGHT * 64)));
    assert.is(gpu.stats().inFlight, 0, 'a read waits for everything');
  });

  test('nothing reaches stdout: no images, empty tensors, a broken kernel (in a child process)', () => {
    // Dawn prints from native code, which only a separate process's stdout can show.
    const child = spawnSync(process.execPath, [fileURLToPath(new URL('./quiet-child.js', import.meta.url))], { encoding: 'utf8', timeout: 60_000 });
    assert.is(child.status, 0, child.stderr);
    assert.is(child.stdout, '');
    const report = JSON.parse(child.stderr.trim().split('\n').at(-1)!);
    assert.equal(report.shape, [0, 1, 28, 28]);
    assert.is(report.samples, 0);
    assert.is(report.outputs, 3);
    assert.is(report.empty, 0);
    assert.match(report.broken, /kernel broken\|child is invalid/);
  });

  test('read of a reshaped view, and of i32 data', async () => {
    const x = up([0, 1, 2, 3, 4, 5], [2, 3]);
    const v = x.reshape([3, 2]);
    assert.equal(v.shape, [3, 2]);
    const data = await v.read();
    assert.ok(data instanceof Float32Array);
    assert.equal(Array.from(data), [0, 1, 2, 3, 4, 5]);
    // The pooled buffer is 256 bytes; read returns the tensor's 6 elements only.
    assert.is(data.length, 6);
    x.dispose();
    assert.equal(Array.from(await v.read()), [0, 1, 2, 3, 4, 5], 'the view keeps the storage alive');
    const ids = gpu.upload(Int32Array.from([-1, 7, 2 ** 30]), [3], 'i32');
    const back = await ids.read();
    assert.ok(back instanceof Int32Array);
    assert.equal(Array.from(back), [-1, 7, 2 ** 30]);
  });

  test('empty tensors', async () => {
    const e = up([], [0, 3]);
    assert.equal(Array.from(await e.read()), []);
    assert.equal(Array.from(await op.add(e, e).read()), []);
  });

  test('using a disposed tensor is an error', () => {
    const x = up([1, 2], [2]);
    x.dispose();
    assert.throws(() => op.add(x, x), /used after it was disposed/);
  });

  test('a tensor too large for one buffer fails at once with a clear message', () => {
    // A broadcast whose output is just over the binding limit: nothing that large is ever allocated.
    const side = Math.ceil(Math.sqrt(gpu.limits.maxStorageBufferBindingSize / 4)) + 1;
    const a = gpu.upload(new Float32Array(side), [side, 1], 'f32'), b = gpu.upload(new Float32Array(side), [1, side], 'f32');
    assert.throws(() => op.add(a, b), /needs [0-9.]+ MiB but this GPU binds at most/);
  });

  test('timeOp measures GPU time', async () => {
    const x = gpu.upload(new Float32Array(64 * 64).fill(1), [64, 64], 'f32');
    const t = await timeOp(gpu, () => op.linear(x, x), { runs: 3, warmup: 1 });
    assert.is(t.timesMs.length, 3);
    assert.ok(t.medianMs > 0 && t.minMs <= t.medianMs);
    assert.is(t.method, gpu.adapter.timestamps ? 'timestamp' : 'wall');
    const wall = await timeOp(gpu, () => op.linear(x, x), { runs: 2, warmup: 0, wallTime: true });
    assert.is(wall.method, 'wall');
  });

  test('timeOp refuses a function that reads', async () => {
    const x = up([1], [1]);
    try {
      await timeOp(gpu, () => { void x.read(); return op.add(x, x); }, { runs: 1, warmup: 0 });
      if (gpu.adapter.timestamps) assert.unreachable('should have thrown');
    } catch (e) {
      assert.match((e as Error).message, /ended the compute pass/);
    }
  });

  // The remaining tests break or destroy their backend, so each opens its own device.
  test('an invalid kernel is reported with its key and the compiler message', async () => {
    const own = (await createWebGpuBackend()).backend!;
    const x = own.upload(Float32Array.from([1]), [1], 'f32');
    own.run({ key: 'broken|test', grid: [1, 1, 1], wgsl: () => '@compute @workgroup_size(1) fn main() { let y = undefinedThing; }' }, [x], [1]);
    try {
      await own.sync();
      assert.unreachable('should have thrown');
    } catch (e) {
      assert.match((e as Error).message, /kernel broken\|test is invalid/);
      assert.match((e as Error).message, /undefinedThing/);
    }
    assert.throws(() => op.add(x, x), /broken\|test/, 'the backend stays failed');
    own.dispose();
  });

  test('a lost device ends in a clear error', async () => {
    const own = (await createWebGpuBackend()).backend!;
    const x = own.upload(Float32Array.from([1, 2]), [2], 'f32');
    own.device.destroy();
    await own.device.lost;
    await assert_rejects(() => op.add(x, x).read(), /device was lost/);
  });

  test('dispose frees everything and later use fails', async () => {
    const own = (await createWebGpuBackend()).backend!;
    const x = own.upload(Float32Array.from([1, 2]), [2], 'f32');
    assert.equal(Array.from(await op.add(x, x).read()), [2, 4]);
    own.dispose();
    assert.ok(own.isDisposed);
    assert.throws(() => op.add(x, x), /disposed/);
    own.dispose(); // twice is fine
  });
}

async function assert_rejects(fn: () => Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await fn();
  } catch (e) {
    assert.match((e as Error).message, pattern);
    return;
  }
  assert.unreachable('expected an error');
}

test.run();
