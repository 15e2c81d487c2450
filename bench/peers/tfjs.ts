// TensorFlow.js on the CPU, the peers a Node user would reach for without native addons:
//   tfjs-cpu   @tensorflow/tfjs-backend-cpu, plain JavaScript on the main thread;
//   tfjs-wasm  @tensorflow/tfjs-backend-wasm, XNNPACK compiled to WebAssembly (the .wasm files ship in
//              the package), with SIMD where WebAssembly SIMD validates, as on Node 20. One thread in
//              Node: tfjs turns its threaded build off there (WASM_HAS_MULTITHREAD_SUPPORT is false
//              under Node, tfjs issue 3830), and forced on, its pthread workers start from a blob: URL,
//              which Node 20's worker_threads refuse (ERR_WORKER_PATH). setThreadsCount has no effect.
// Both hold w transposed ([K, N]) and run a plain tf.matMul: tfjs-wasm sends a transposed B to a
// generic loop (3 GFLOP/s against 39 on XNNPACK at DiT-S shapes); tfjs-cpu runs as fast either way.
// tfjs has one engine per process: each op switches it to its own backend before it runs.

import { createRequire } from 'node:module';
import { importPackage, loadPeer, type Importer, type Peer, type PeerResult } from './peer.js';

type Tf = typeof import('@tensorflow/tfjs-core');

export type TfjsBackend = 'cpu' | 'wasm';

/** A tfjs CPU-side peer: it computes on this many threads. */
export interface TfjsPeer extends Peer {
  threads: number;
}

const PACKAGE: Record<TfjsBackend, string> = { cpu: '@tensorflow/tfjs-backend-cpu', wasm: '@tensorflow/tfjs-backend-wasm' };

export function loadTfjs(backend: TfjsBackend, importer: Importer = importPackage): Promise<PeerResult<TfjsPeer>> {
  const pkg = PACKAGE[backend];
  return loadPeer(['@tensorflow/tfjs-core', pkg], async () => {
    // tfjs-core advises installing tfjs-node when it sees Node; that is the native peer, not this one.
    const { log, warn } = console;
    console.log = console.warn = () => {};
    let tf: Tf;
    try {
      tf = (await importer('@tensorflow/tfjs-core')) as Tf;
      await importer(pkg);
      if (!(await tf.setBackend(backend))) throw new Error(`tf.setBackend('${backend}') failed`);
      await tf.ready();
      // The backend is created on first use: do that while the console is muted.
      tf.add(tf.scalar(1), tf.scalar(1)).dataSync();
    } finally {
      Object.assign(console, { log, warn });
    }
    const version = (createRequire(import.meta.url)(`${pkg}/package.json`) as { version: string }).version;
    const simd = backend === 'wasm' ? (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT') ? ', SIMD' : ', no SIMD') : '';
    // A backend already made is switched to at once: setBackend's promise only reports it.
    const use = () => void tf.setBackend(backend);
    return {
      version: `${pkg} ${version}${simd}, 1 thread`,
      threads: 1,
      matmul(x, w, m, k, n) {
        use();
        const a = tf.tensor2d(x, [m, k]);
        const b = tf.tidy(() => tf.transpose(tf.tensor2d(w, [n, k])));
        const product = () => {
          use();
          const y = tf.matMul(a, b);
          const data = y.dataSync() as Float32Array;
          y.dispose();
          return data;
        };
        return {
          async run() {
            const start = performance.now();
            product();
            return { ms: performance.now() - start, timing: 'wall' };
          },
          read: async () => product(),
          dispose() {
            a.dispose();
            b.dispose();
          },
        };
      },
    };
  });
}
