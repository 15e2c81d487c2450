// The FMA half of matmul.test.ts, run in a child process started with --experimental-wasm-relaxed-simd
// (Node 20 needs the flag). Not a test file itself: matmul.test.ts imports and runs it there.

import { detectMatmulVariant } from '../../../../kernels/cpu/wasm/matmul.js';
import { randn } from '../../../reference.js';
import { maxRelErr } from '../../../../core/accuracy.js';
import { linearColumns, type LinearArgs } from '../../../../kernels/cpu/matmul.js';
import { linearColumnsSimd } from '../../../../kernels/cpu/wasm/matmul.js';

export function run(): void {
  const v = detectMatmulVariant();
  if (!v?.fma) throw new Error(`relaxed SIMD does not validate even with the flag (${JSON.stringify(v)})`);
  const sizes = [1, 3, 7, 17, 130];
  for (const m of sizes) {
    for (const k of [1, 5, 33, 384]) {
      for (const n of sizes) {
        for (const act of ['none', 'gelu'] as const) {
          const p: LinearArgs = { x: randn(m * k, m), w: randn(n * k, n + 1), bias: randn(n, 2), y: new Float32Array(m * n), m, k, n, act };
          const want = new Float32Array(m * n), got = new Float32Array(m * n);
          linearColumns({ ...p, y: want }, 0, n);
          linearColumnsSimd({ ...p, y: got }, 0, n, v);
          const err = maxRelErr(got, want);
          if (!(err <= 1e-5)) throw new Error(`${m}x${k}x${n} ${act}: relative error ${err}`);
        }
      }
    }
  }
  console.log('fma parity ok');
}
