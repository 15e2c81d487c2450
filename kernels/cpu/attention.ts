// The CPU's attention: o = softmax(q k^T * scale) v per head, q, k, v and o where the layout says
// (kernels/attention-layout.ts: [BH, T, hd], heads read in place from a projection, or written merged).
// Each head's k and v^T, and each block's q rows, are gathered into scratch (O(T hd) copies for
// O(T^2 hd) FLOPs) and the output rows scattered, so the products always see contiguous rows.
//
// Attention is two matrix products around a row softmax, so it reuses the register-blocked linear
// kernel (matmul.ts) for both: scores = q_blk · k^T is exactly a Linear with k as the weight, and
// o_blk = p · v is a Linear with v^T as the weight (v is transposed once per head). Queries go in
// blocks of QUERY_BLOCK rows, so the scores scratch is QUERY_BLOCK x T, never T x T. The softmax is
// exact (max-subtracted over the whole row) because a full row of scores exists before normalising.
// Threads split the flattened (head, query) rows, so even one head with many tokens parallelises.
// With `simd` both products run on the WebAssembly SIMD linear kernel (kernels/cpu/wasm/matmul.ts):
// k and v^T are packed once per head straight into its panels, which it copies into its memory per
// query block of 256 (O(T D) copies for O(256 T D) FLOPs), and the softmax runs on the SIMD row
// kernel (kernels/cpu/wasm/rows.ts).

import { attentionOutput, type AttentionLayout, type HeadStrides } from '../attention-layout.js';
import { linearColumns } from './matmul.js';
import { linearColumnsSimd, packedPanelsLength, packPanels } from './wasm/matmul.js';
import { softmaxRowsSimd } from './wasm/rows.js';

export interface AttentionArgs {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  o: Float32Array;
  layout: AttentionLayout;
  scale: number;
  /** Run the two products on the WebAssembly SIMD kernel instead of the TypeScript one. */
  simd?: boolean;
}

const QUERY_BLOCK = 64;
/**
 * The SIMD path's query block: 4x more rows per copy of the head's panels into the kernel's memory
 * (a T x 256 scores block: 1 MiB per thread at T = 1024).
 */
const SIMD_QUERY_BLOCK = 256;
const NO_ROWS = new Float32Array(0);

/** Computes output rows [rowStart, rowEnd) of the flattened [BH * T] (head, query) rows. */
export function attentionRows(a: AttentionArgs, rowStart: number, rowEnd: number): void {
  const { q, k, v, o, layout, scale } = a;
  const { heads: H, tokens: T, headDim: D } = layout;
  const out = attentionOutput(layout).strides;
  const simd = a.simd === true;
  const linear = simd ? linearColumnsSimd : linearColumns;
  const block = simd ? SIMD_QUERY_BLOCK : QUERY_BLOCK;
  const scores = new Float32Array(block * T);
  const qBlock = new Float32Array(block * D), oBlock = new Float32Array(block * D);
  // TypeScript: k and v^T of the head as rows. SIMD: the kernel's panels of the same two weights,
  // packed straight from q's and v's rows (the linear copies them in whole, never gathers them).
  const kHead = new Float32Array(simd ? packedPanelsLength(T, D) : T * D), vT = new Float32Array(simd ? packedPanelsLength(D, T) : D * T);
  // Where row (head, t) of an operand starts.
  const at = (s: HeadStrides, head: number, t: number) => s.offset + Math.floor(head / H) * s.batch + (head % H) * s.head + t * s.token;
  for (let head = Math.floor(rowStart / T); head * T < rowEnd; head++) {
    if (simd) {
      packPanels(k.subarray(at(layout.k, head, 0)), layout.k.token, 1, D, 0, T, kHead, 0);
      packPanels(v.subarray(at(layout.v, head, 0)), 1, layout.v.token, T, 0, D, vT, 0);
    } else {
      for (let j = 0; j < T; j++) {
        const kr = at(layout.k, head, j), vr = at(layout.v, head, j);
        for (let d = 0; d < D; d++) {
          kHead[j * D + d] = k[kr + d];
          vT[d * T + j] = v[vr + d];
        }
      }
    }
    // The SIMD kernel reads the panels; w is only read on its K = 0 path, which reads no element.
    const kw = simd ? { w: NO_ROWS, panels: kHead } : { w: kHead }, vw = simd ? { w: NO_ROWS, panels: vT } : { w: vT };
    const first = Math.max(rowStart, head * T), last = Math.min(rowEnd, (head + 1) * T);
    for (let row = first; row < last; row += block) {
      const rows = Math.min(block, last - row), t0 = row - head * T;
      for (let r = 0; r < rows; r++) qBlock.set(q.subarray(at(layout.q, head, t0 + r), at(layout.q, head, t0 + r) + D), r * D);
      const p = scores.subarray(0, rows * T);
      linear({ x: qBlock.subarray(0, rows * D), ...kw, bias: null, y: p, m: rows, k: D, n: T, act: 'none' }, 0, T);
      if (simd) softmaxRowsSimd(p, p, T, scale, 0, rows);
      else for (let r = 0; r < rows; r++) softmaxRow(p, r * T, T, scale);
      linear({ x: p, ...vw, bias: null, y: oBlock.subarray(0, rows * D), m: rows, k: T, n: D, act: 'none' }, 0, D);
      for (let r = 0; r < rows; r++) o.set(oBlock.subarray(r * D, (r + 1) * D), at(out, head, t0 + r));
    }
  }
}

/** In place: p[o..o+n) = softmax(scale * p[o..o+n)). */
function softmaxRow(p: Float32Array, o: number, n: number, scale: number): void {
  let max = -Infinity;
  for (let j = 0; j < n; j++) max = Math.max(max, p[o + j]);
  let sum = 0;
  for (let j = 0; j < n; j++) {
    const e = Math.exp((p[o + j] - max) * scale);
    p[o + j] = e;
    sum += e;
  }
  const inv = 1 / sum;
  for (let j = 0; j < n; j++) p[o + j] *= inv;
}
