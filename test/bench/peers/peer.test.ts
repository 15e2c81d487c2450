import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadGpujs } from '../../../bench/peers/gpujs.js';
import { loadPeer, type Importer, type Peer } from '../../../bench/peers/peer.js';
import { loadTfjs } from '../../../bench/peers/tfjs.js';
import { loadTfjsWebgpu } from '../../../bench/peers/tfjs-webgpu.js';

const absent: Importer = (specifier) => import(`${specifier}-not-installed`);
const stub: Peer = { version: 'stub 1.0', matmul: () => { throw new Error('not called'); } };

test('a loaded peer comes back as it is', async () => {
  assert.equal(await loadPeer(['stub'], async () => stub), { peer: stub, reason: null });
});

test('a missing package: its name and the install line for all of the peer\'s packages, on one line', async () => {
  const r = await loadPeer(['a', 'b'], () => absent('left-pad-x') as Promise<Peer>);
  assert.equal(r, { peer: null, reason: "Cannot find package 'left-pad-x-not-installed' (npm install a b)" });
});

test('any other failure: the first line of its message, without an install hint', async () => {
  const r = await loadPeer(['a'], async () => { throw new Error('tf.setBackend("webgpu") failed\n    at somewhere'); });
  assert.equal(r, { peer: null, reason: 'tf.setBackend("webgpu") failed' });
});

test('every peer imports through the importer, and says how to install what it needs', async () => {
  assert.match((await loadTfjs('cpu', absent)).reason!, /\(npm install @tensorflow\/tfjs-core @tensorflow\/tfjs-backend-cpu\)$/);
  assert.match((await loadTfjs('wasm', absent)).reason!, /\(npm install @tensorflow\/tfjs-core @tensorflow\/tfjs-backend-wasm\)$/);
  // The device is not touched before the packages are imported.
  const webgpu = await loadTfjsWebgpu({} as GPUDevice, { vendor: '', architecture: '' }, absent);
  assert.match(webgpu.reason!, /\(npm install @tensorflow\/tfjs-core @tensorflow\/tfjs-backend-webgpu\)$/);
  assert.match((await loadGpujs(absent)).reason!, /^Cannot find package 'gpu\.js-not-installed' \(npm install gpu\.js\)$/);
});

test('gpu.js: a failed load is not kept, so a later load tries again', async () => {
  const asked: string[] = [];
  const recording: Importer = (specifier) => {
    asked.push(specifier);
    return absent(specifier);
  };
  await loadGpujs(recording);
  await loadGpujs(recording);
  assert.equal(asked, ['gpu.js', 'gpu.js']);
});

test('tfjs-cpu and tfjs-wasm, installed here as devDependencies: x · w^T on one thread, each op on its own backend', async () => {
  const tf = await import('@tensorflow/tfjs-core');
  const cpu = (await loadTfjs('cpu')).peer, wasm = (await loadTfjs('wasm')).peer;
  assert.ok(cpu && wasm, 'both load');
  assert.match(wasm.version, /^@tensorflow\/tfjs-backend-wasm \d+\.\d+\.\d+, SIMD, 1 thread$/);
  for (const [peer, backend] of [[cpu, 'cpu'], [wasm, 'wasm'], [cpu, 'cpu']] as const) {
    assert.is(peer.threads, 1);
    const op = peer.matmul(Float32Array.of(1, 2, 3, 4), Float32Array.of(1, 0, 0, 1, 1, 1), 2, 2, 3);
    assert.equal(Array.from(await op.read()), [1, 2, 3, 3, 4, 7]);
    assert.is(tf.getBackend(), backend);
    const run = await op.run();
    assert.ok(run.ms >= 0 && run.timing === 'wall');
    op.dispose();
  }
});

test.run();
