// TensorFlow.js's pure-JavaScript CPU backend (@tensorflow/tfjs-backend-cpu), the peer a Node user
// would reach for without native addons. Loaded lazily so the engine never depends on it.

export interface TfjsMatmul {
  version: string;
  /** y = x · w^T for x [M, K], w [N, K]: `run` returns once the result is computed, `read` returns it. */
  matmul(x: Float32Array, w: Float32Array, m: number, k: number, n: number): { run(): void; read(): Float32Array };
}

export async function loadTfjsCpu(): Promise<TfjsMatmul> {
  // tfjs-core advises installing tfjs-node when it sees Node; that is the native peer, not this one.
  const { log, warn } = console;
  console.log = console.warn = () => {};
  try {
    const tf = await import('@tensorflow/tfjs-core');
    await import('@tensorflow/tfjs-backend-cpu');
    await tf.setBackend('cpu');
    await tf.ready();
    // The backend is created on first use: do that while the console is muted.
    tf.add(tf.scalar(1), tf.scalar(1)).dataSync();
    return {
      version: tf.version_core,
      matmul(x, w, m, k, n) {
        const a = tf.tensor2d(x, [m, k]);
        const b = tf.tensor2d(w, [n, k]);
        const product = () => tf.matMul(a, b, false, true);
        return {
          run() {
            const y = product();
            y.dataSync();
            y.dispose();
          },
          read() {
            const y = product();
            const data = y.dataSync() as Float32Array;
            y.dispose();
            return data;
          },
        };
      },
    };
  } finally {
    Object.assign(console, { log, warn });
  }
}
