// TensorFlow.js's pure-JavaScript CPU backend (@tensorflow/tfjs-backend-cpu), the peer a Node user
// would reach for without native addons.

import { createRequire } from 'node:module';
import { importPackage, loadPeer, type Importer, type Peer, type PeerResult } from './peer.js';

type Tf = typeof import('@tensorflow/tfjs-core');

const TFJS_CPU_PACKAGES = ['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-cpu'] as const;

export function loadTfjsCpu(importer: Importer = importPackage): Promise<PeerResult<Peer>> {
  return loadPeer(TFJS_CPU_PACKAGES, async () => {
    // tfjs-core advises installing tfjs-node when it sees Node; that is the native peer, not this one.
    const { log, warn } = console;
    console.log = console.warn = () => {};
    let tf: Tf;
    try {
      tf = (await importer('@tensorflow/tfjs-core')) as Tf;
      await importer('@tensorflow/tfjs-backend-cpu');
      await tf.setBackend('cpu');
      await tf.ready();
      // The backend is created on first use: do that while the console is muted.
      tf.add(tf.scalar(1), tf.scalar(1)).dataSync();
    } finally {
      Object.assign(console, { log, warn });
    }
    const version = (createRequire(import.meta.url)('@tensorflow/tfjs-backend-cpu/package.json') as { version: string }).version;
    return {
      version: `@tensorflow/tfjs-backend-cpu ${version}`,
      matmul(x, w, m, k, n) {
        const a = tf.tensor2d(x, [m, k]), b = tf.tensor2d(w, [n, k]);
        const product = () => {
          const y = tf.matMul(a, b, false, true);
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
