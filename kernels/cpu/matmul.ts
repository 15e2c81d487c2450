// The CPU's linear layer: y[M,N] = act(x[M,K] · w[N,K]^T + bias).
//
// Both operands are walked along K with unit stride (PyTorch keeps Linear weights as [out, in], which is
// exactly the layout a dot-product kernel wants, so weights are never transposed). The inner loop keeps
// a 4x4 block of outputs in 16 local variables ("registers"): each step loads 4 values of x and 4 of w
// and does 16 multiply-adds, so every load feeds 4 FLOP pairs instead of 1. V8 keeps these locals in
// machine registers; this is what makes plain JavaScript run at several GFLOP/s per core.
// Accumulation is in float64 (JavaScript numbers), rounded to f32 once on store.
//
// Work is split across threads by output columns (blocks of w rows): each thread streams its own
// slice of the weight matrix, and a small M (the adaLN projection, M = batch) still parallelises.

import type { Activation } from '../../core/backend.js';
import { activate } from './activations.js';

export interface LinearArgs {
  x: Float32Array;
  w: Float32Array;
  bias: Float32Array | null;
  y: Float32Array;
  m: number;
  k: number;
  n: number;
  act: Activation;
}

/** Floats of x kept hot while a thread sweeps its columns: 128 KiB, about a core's L2 share. */
const X_PANEL_FLOATS = 32768;

/**
 * Computes output columns [colStart, colEnd) for every row. colStart is a multiple of 4.
 * Rows go in panels of x small enough to stay in cache while every column block of w streams past
 * them; without this, a tall x (thousands of tokens) is re-read from memory for each column block.
 * A panel keeps at least 64 rows so each streamed block of w still feeds 16 register tiles.
 */
export function linearColumns(a: LinearArgs, colStart: number, colEnd: number): void {
  const rowBlock = Math.max(64, Math.floor(X_PANEL_FLOATS / a.k) & ~3);
  for (let r = 0; r < a.m; r += rowBlock) linearPanel(a, r, Math.min(a.m, r + rowBlock), colStart, colEnd);
}

function linearPanel(a: LinearArgs, rowStart: number, rowEnd: number, colStart: number, colEnd: number): void {
  const { x, w, bias, y, k: K, n: N, act } = a;
  const mBlocked = rowStart + ((rowEnd - rowStart) & ~3);
  const nBlocked = colStart + ((colEnd - colStart) & ~3);
  for (let j = colStart; j < nBlocked; j += 4) {
    const b0 = bias ? bias[j] : 0, b1 = bias ? bias[j + 1] : 0;
    const b2 = bias ? bias[j + 2] : 0, b3 = bias ? bias[j + 3] : 0;
    for (let i = rowStart; i < mBlocked; i += 4) {
      let c00 = b0, c01 = b1, c02 = b2, c03 = b3, c10 = b0, c11 = b1, c12 = b2, c13 = b3;
      let c20 = b0, c21 = b1, c22 = b2, c23 = b3, c30 = b0, c31 = b1, c32 = b2, c33 = b3;
      // xa walks row i of x and wa row j of w; the other three rows sit K, 2K, 3K further on.
      const xEnd = i * K + K;
      for (let xa = i * K, wa = j * K; xa < xEnd; xa++, wa++) {
        const a0 = x[xa], a1 = x[xa + K], a2 = x[xa + 2 * K], a3 = x[xa + 3 * K];
        let b = w[wa];
        c00 += a0 * b; c10 += a1 * b; c20 += a2 * b; c30 += a3 * b;
        b = w[wa + K];
        c01 += a0 * b; c11 += a1 * b; c21 += a2 * b; c31 += a3 * b;
        b = w[wa + 2 * K];
        c02 += a0 * b; c12 += a1 * b; c22 += a2 * b; c32 += a3 * b;
        b = w[wa + 3 * K];
        c03 += a0 * b; c13 += a1 * b; c23 += a2 * b; c33 += a3 * b;
      }
      if (act === 'none') {
        let o = i * N + j;
        y[o] = c00; y[o + 1] = c01; y[o + 2] = c02; y[o + 3] = c03; o += N;
        y[o] = c10; y[o + 1] = c11; y[o + 2] = c12; y[o + 3] = c13; o += N;
        y[o] = c20; y[o + 1] = c21; y[o + 2] = c22; y[o + 3] = c23; o += N;
        y[o] = c30; y[o + 1] = c31; y[o + 2] = c32; y[o + 3] = c33;
      } else {
        const block = [c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33];
        for (let r = 0; r < 4; r++) {
          for (let c = 0; c < 4; c++) y[(i + r) * N + j + c] = activate(act, block[r * 4 + c]);
        }
      }
    }
    // Rows past the last full block of 4.
    for (let i = mBlocked; i < rowEnd; i++) {
      for (let c = 0; c < 4; c++) y[i * N + j + c] = dot(a, i, j + c);
    }
  }
  // Columns past the last full block of 4.
  for (let j = nBlocked; j < colEnd; j++) {
    for (let i = rowStart; i < rowEnd; i++) y[i * N + j] = dot(a, i, j);
  }
}

/** One output element: the edge case the blocked loop leaves over. */
function dot(a: LinearArgs, i: number, j: number): number {
  const { x, w, k: K } = a;
  let s = a.bias ? a.bias[j] : 0;
  const xo = i * K, wo = j * K;
  for (let kk = 0; kk < K; kk++) s += x[xo + kk] * w[wo + kk];
  return activate(a.act, s);
}
