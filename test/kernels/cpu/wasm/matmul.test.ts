// kernels/cpu/wasm/matmul.ts against the TypeScript kernel (kernels/cpu/matmul.ts), the reference:
// sizes that do not divide the 4x8 register block (M, N, K of 1, 3, 5, 7, 17, 33, 130), sizes that span
// several cache blocks of x and of w, bias, the GELU/SiLU epilogue, column ranges as threads split them.
// Both variants where the runtime has them: mul+add always, relaxed-SIMD FMA in process where it
// validates and, on Node 20 where it needs a flag, in a child process started with that flag.

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Activation } from '../../../../core/backend.js';
import { maxRelErr } from '../../../../core/accuracy.js';
import * as elementwise from '../../../../kernels/cpu/elementwise.js';
import { linearColumns, type LinearArgs } from '../../../../kernels/cpu/matmul.js';
import { detectMatmulVariant, linearColumnsSimd, matmulModule, packedPanelsLength, packPanelRange, packPanels, type MatmulVariant } from '../../../../kernels/cpu/wasm/matmul.js';
import { wasm } from '../../../../kernels/cpu/wasm/module.js';
import { randn } from '../../../reference.js';

/** f32 accumulation over K against the reference's f64: a few ulps of the largest output. */
const TOL = 1e-5;

function problem(m: number, k: number, n: number, bias: boolean, act: Activation, seed = m + 3 * k + 7 * n): LinearArgs {
  return { x: randn(m * k, seed), w: randn(n * k, seed + 1), bias: bias ? randn(n, seed + 2) : null, y: new Float32Array(m * n), m, k, n, act };
}

/** w [N][K] packed whole, as the CPU backend keeps a weight's panels, in two ranges as two threads would. */
function prepack(p: LinearArgs): Float32Array {
  const panels = new Float32Array(packedPanelsLength(p.n, p.k)).fill(NaN);
  const count = Math.ceil(p.n / 8), half = Math.floor(count / 2);
  packPanelRange({ w: p.w, n: p.n, k: p.k, panels }, 0, half);
  packPanelRange({ w: p.w, n: p.n, k: p.k, panels }, half, count);
  return panels;
}

/**
 * Runs both kernels on the same problem over columns [c0, c1) and compares every output; `prepacked`:
 * the simd kernel is given w's panels packed once (copied where c0 is a multiple of 8, else unused).
 */
export function expectParity(p: LinearArgs, variant: MatmulVariant, c0 = 0, c1 = p.n, what = '', prepacked = false): void {
  const want = new Float32Array(p.m * p.n).fill(-7), got = new Float32Array(p.m * p.n).fill(-7);
  linearColumns({ ...p, y: want }, c0, c1);
  linearColumnsSimd({ ...p, y: got, panels: prepacked ? prepack(p) : null }, c0, c1, variant);
  const label = `${p.m}x${p.k}x${p.n} bias=${p.bias !== null} ${p.act} cols ${c0}..${c1} fma=${variant.fma} prepacked=${prepacked} ${what}`;
  assert.ok(got.every(Number.isFinite), `${label}: non-finite values`);
  const err = maxRelErr(got, want);
  assert.ok(err <= TOL, `${label}: relative error ${err.toExponential(2)} > ${TOL}`);
  // Columns outside the range are left alone.
  for (let i = 0; i < p.m; i++) {
    for (let j = 0; j < p.n; j++) if (j < c0 || j >= c1) assert.is(got[i * p.n + j], -7, `${label}: wrote y[${i}][${j}]`);
  }
}

const detected = detectMatmulVariant();
const variants: MatmulVariant[] = detected ? (detected.fma ? [{ fma: false }, { fma: true }] : [{ fma: false }]) : [];

test('the runtime has WebAssembly SIMD (Node 20 does), so the simd kernels are what these tests run', () => {
  assert.ok(wasm !== null && detected !== null);
  assert.ok(wasm!.validate(matmulModule({ fma: false })));
});

const sizes = [1, 3, 5, 7, 17, 33, 130];
for (const variant of variants) {
  test(`every M, K, N in ${sizes.join(', ')} (fma=${variant.fma})`, () => {
    let i = 0;
    for (const m of sizes) {
      for (const k of sizes) {
        for (const n of sizes) {
          // Bias and activation cycle so every combination meets every size class.
          const act = (['none', 'gelu', 'silu'] as const)[i % 3];
          expectParity(problem(m, k, n, i % 2 === 0, act), variant, 0, n, '', i % 4 < 2);
          i++;
        }
      }
    }
  });

  test(`bias and the GELU/SiLU epilogue at a DiT-S/2 shape (fma=${variant.fma})`, () => {
    for (const act of ['none', 'gelu', 'silu'] as const) {
      for (const bias of [false, true]) expectParity(problem(64, 384, 200, bias, act), variant);
    }
  });

  test(`column ranges as the thread pool splits them, aligned or not (fma=${variant.fma})`, () => {
    const p = problem(37, 45, 70, true, 'gelu');
    for (const [c0, c1] of [[0, 8], [8, 40], [3, 29], [40, 70], [69, 70], [5, 5]]) {
      for (const prepacked of [false, true]) expectParity(p, variant, c0, c1, '', prepacked);
    }
  });

  test(`problems larger than one cache block of x and of w (fma=${variant.fma})`, () => {
    // K = 1500: 40 rows of x per block, so 130 rows take 4 blocks; K = 3: columns go in blocks of 2048.
    expectParity(problem(130, 1500, 21, true, 'none'), variant, 0, 21, 'many row blocks');
    expectParity(problem(5, 3, 2100, true, 'silu'), variant, 0, 2100, 'two column blocks');
    expectParity(problem(9, 600, 1800, false, 'none'), variant, 3, 1800, 'blocks in both');
    expectParity(problem(5, 3, 2100, true, 'silu'), variant, 0, 2100, 'two column blocks', true);
    expectParity(problem(9, 600, 1800, false, 'none'), variant, 8, 1800, 'blocks in both', true);
  });
}

test('packPanels: panel p, step kk, lane l is column 8p + l at kk, zero past N; strides read a transposed source', () => {
  const [n, k] = [11, 5];
  const w = randn(n * k, 4), wT = new Float32Array(k * n);
  for (let c = 0; c < n; c++) for (let kk = 0; kk < k; kk++) wT[kk * n + c] = w[c * k + kk];
  const rows = new Float32Array(packedPanelsLength(n, k)).fill(NaN), cols = new Float32Array(packedPanelsLength(n, k)).fill(NaN);
  packPanels(w, k, 1, k, 0, n, rows, 0);
  packPanels(wT, 1, n, k, 0, n, cols, 0);
  for (let p = 0; p < 2; p++) {
    for (let kk = 0; kk < k; kk++) {
      for (let l = 0; l < 8; l++) {
        const c = 8 * p + l, at = (p * k + kk) * 8 + l;
        assert.is(rows[at], c < n ? w[c * k + kk] : 0, `panel ${p} step ${kk} lane ${l}`);
        assert.is(cols[at], rows[at]);
      }
    }
  }
});

test('the gated residual epilogue equals the TypeScript linear, then gatedResidual: odd sizes, column ranges, K = 0, with GELU', () => {
  if (!detected) return;
  for (const [batch, tokens, k, n, act, c0, c1] of [[2, 5, 7, 13, 'none', 0, 13], [3, 7, 33, 70, 'gelu', 8, 61], [2, 3, 0, 9, 'none', 0, 9], [1, 130, 384, 40, 'none', 3, 40]] as const) {
    const m = batch * tokens, p = problem(m, k, n, true, act);
    const width = 3 * n + 1, offset = n + 1, table = randn(batch * width, 11), x = randn(m * n, 12);
    const lin = new Float32Array(m * n), want = new Float32Array(m * n);
    linearColumns({ ...p, y: lin }, 0, n);
    elementwise.gatedResidual(x, { table, width, offset }, lin, want, tokens, n);
    const got = new Float32Array(m * n).fill(-7);
    linearColumnsSimd({ ...p, y: got, panels: prepack(p), residual: { x, table, width, offset, rowsPerBatch: tokens } }, c0, c1, detected);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        const at = i * n + j;
        if (j < c0 || j >= c1) assert.is(got[at], -7, `wrote y[${i}][${j}]`);
        else got[at] -= want[at]; // the difference, checked below
      }
    }
    const diff = Array.from(got).filter((_, at) => at % n >= c0 && at % n < c1);
    const err = Math.max(...diff.map(Math.abs)) / Math.max(...want.map(Math.abs));
    assert.ok(err <= TOL, `${batch}x${tokens}x${k}x${n} ${act} cols ${c0}..${c1}: relative error ${err.toExponential(2)}`);
  }
});

test('K = 0: y is the bias (after the activation)', () => {
  if (!detected) return;
  const p = problem(3, 0, 5, true, 'silu');
  expectParity(p, detected);
});

test('non-finite inputs propagate as in the reference', () => {
  if (!detected) return;
  const p = problem(5, 9, 11, true, 'none');
  p.x[2 * 9 + 4] = Infinity;
  p.w[3 * 9 + 1] = NaN;
  const want = new Float32Array(5 * 11), got = new Float32Array(5 * 11);
  linearColumns({ ...p, y: want }, 0, 11);
  linearColumnsSimd({ ...p, y: got }, 0, 11, detected);
  for (let i = 0; i < want.length; i++) assert.is(Number.isFinite(got[i]), Number.isFinite(want[i]), `y[${i}]`);
});

// Node 20 (V8 11.3) validates relaxed SIMD only with --experimental-wasm-relaxed-simd: run the FMA
// variant's parity in a child process that has the flag, so it is tested whatever runs this suite.
test('the relaxed-SIMD FMA kernel, in a child process with the flag where the runtime needs one', () => {
  if (!detected || detected.fma) return; // no SIMD at all, or FMA already tested in process
  const self = fileURLToPath(import.meta.url);
  const code = `
    const t = await import(${JSON.stringify(self.replace(/matmul\.test\.js$/, 'fma-child.js'))});
    t.run();`;
  const r = spawnSync(process.execPath, ['--experimental-wasm-relaxed-simd', '--input-type=module', '-e', code], { encoding: 'utf8' });
  if (/bad option/.test(r.stderr)) return; // a runtime without the flag (and without relaxed SIMD)
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /fma parity ok/);
});

test.run();
