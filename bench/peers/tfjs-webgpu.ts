// TensorFlow.js's WebGPU backend (@tensorflow/tfjs-backend-webgpu), the GPU peer a JavaScript user
// would reach for. It was written for browsers but runs in Node on Dawn: it only looks for
// `navigator.gpu` (at import and when the backend is made), and its constructor takes a GPUDevice.
// So we hand it *our* device: the same adapter, the same queue, and the same unquantized timestamp
// queries, which makes its tf.time() kernel times directly comparable with ours. Its matmul is
// tf.matMul(x, w, false, true); its attention the way a tfjs user writes it: matMul, softmax, matMul.

import { createRequire } from 'node:module';
import { importPackage, loadPeer, type AttentionPeer, type Importer, type PeerOp, type PeerResult, type PeerRun } from './peer.js';

const TFJS_WEBGPU_PACKAGES = ['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-webgpu'] as const;

type Tf = typeof import('@tensorflow/tfjs-core');
type TfTensor = import('@tensorflow/tfjs-core').Tensor;

/** The device tfjs's 'webgpu' backend is bound to in this process (it is made once per binding). */
let bound: GPUDevice | null = null;

/** tfjs on `device`; navigator.gpu must already be set (bench/kernels.ts does that). */
export function loadTfjsWebgpu(device: GPUDevice, adapter: { vendor: string; architecture: string }, importer: Importer = importPackage): Promise<PeerResult<AttentionPeer>> {
  return loadPeer(TFJS_WEBGPU_PACKAGES, () => load(device, adapter, importer));
}

async function load(device: GPUDevice, adapter: { vendor: string; architecture: string }, importer: Importer): Promise<AttentionPeer> {
  // tfjs-core advises installing tfjs-node when it sees Node: that is the native peer, not this one.
  const { log, warn } = console;
  console.log = console.warn = () => {};
  let tf: Tf;
  try {
    tf = (await importer('@tensorflow/tfjs-core')) as Tf;
    const { WebGPUBackend } = (await importer('@tensorflow/tfjs-backend-webgpu')) as typeof import('@tensorflow/tfjs-backend-webgpu');
    if (bound !== device) {
      // Importing the package registered a 'webgpu' factory that opens a device of its own; replace it
      // with one that wraps ours. Kernels are registered by backend name, so the name must stay 'webgpu'.
      if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
      tf.registerBackend('webgpu', () => new WebGPUBackend(device, adapter as GPUAdapterInfo));
      bound = device;
    }
    if (!(await tf.setBackend('webgpu'))) throw new Error('tf.setBackend("webgpu") failed');
    await tf.ready();
  } finally {
    Object.assign(console, { log, warn });
  }
  const timestamps = device.features.has('timestamp-query');
  const version = (createRequire(import.meta.url)('@tensorflow/tfjs-backend-webgpu/package.json') as { version: string }).version;

  /** A PeerOp that computes `compute(inputs)` on uploaded inputs. */
  function peerOp(inputs: TfTensor[], compute: () => TfTensor): PeerOp {
    return {
      async run(): Promise<PeerRun> {
        if (timestamps) {
          // tf.time runs the function with each program in its own compute pass between two timestamp
          // writes, and kernelMs is their sum: GPU time, as for our kernels. The tidy frees the results.
          const info = await tf.time(() => tf.tidy(() => void compute()));
          if (typeof info.kernelMs === 'number') return { ms: info.kernelMs, timing: 'tfjs-kernelMs' };
        }
        // No timestamp queries on this device: the wall time of the op and the readback of its result.
        const start = performance.now();
        const y = compute();
        await y.data();
        y.dispose();
        return { ms: performance.now() - start, timing: 'wall-readback' };
      },
      async read(): Promise<Float32Array> {
        const y = compute();
        const data = (await y.data()) as Float32Array;
        y.dispose();
        return data;
      },
      dispose(): void {
        for (const t of inputs) t.dispose();
      },
    };
  }

  return {
    version: `@tensorflow/tfjs-backend-webgpu ${version}`,
    matmul(x, w, m, k, n) {
      const a = tf.tensor2d(x, [m, k]), b = tf.tensor2d(w, [n, k]);
      return peerOp([a, b], () => tf.matMul(a, b, false, true));
    },
    attention(q, k, v, bh, t, hd, scale) {
      const tq = tf.tensor3d(q, [bh, t, hd]), tk = tf.tensor3d(k, [bh, t, hd]), tv = tf.tensor3d(v, [bh, t, hd]);
      // Scaling q (bh*t*hd values) costs less than scaling the scores (bh*t*t).
      return peerOp([tq, tk, tv], () => tf.matMul(tf.softmax(tf.matMul(tf.mul(tq, scale), tk, false, true)), tv));
    },
  };
}
