// The CPU's 2-D convolution (stride 1, zero padding) as a matrix product over blocks of pixels.
//
// For one output pixel, the conv is a dot product of the weight row w[o] (flattened [C, kh, kw], its
// stored order) with the input values under the kernel in the same (c, ky, kx) order: a row of the
// "im2col" matrix. So a block of BLOCK output pixels is: copy their BLOCK im2col rows (zeros in the
// padding) into a scratch panel, then one Linear, panel [BLOCK, K] · w[O, K]^T + bias, with the
// register-blocked kernel of matmul.ts. The panel (BLOCK x K) stays in cache while the weight rows
// stream past it once per block, each feeding BLOCK pixels; the whole im2col matrix (9x the input for
// a 3x3 kernel) never exists. The Linear's result is pixel-major [BLOCK, O]; it is written out
// transposed into the NCHW output.
//
// Threads split the (image, block) work items. This is the reference and the DITTO_CPU_KERNELS=ts
// path; kernels/cpu/wasm/conv.ts runs the same product on the WebAssembly SIMD kernel.

import { linearColumns } from './matmul.js';

export interface Conv2dArgs {
  x: Float32Array;
  w: Float32Array;
  bias: Float32Array | null;
  y: Float32Array;
  channels: number;
  height: number;
  width: number;
  outChannels: number;
  kernelH: number;
  kernelW: number;
  padding: number;
}

/** Output pixels per block: 64 im2col rows, as many as the Linear kernel keeps hot at once. */
export const CONV_BLOCK = 64;

export function convOutputSize(a: Pick<Conv2dArgs, 'height' | 'width' | 'kernelH' | 'kernelW' | 'padding'>): { oh: number; ow: number } {
  return { oh: a.height + 2 * a.padding - a.kernelH + 1, ow: a.width + 2 * a.padding - a.kernelW + 1 };
}

/** Computes the work items [start, end): item i is block i % blocksPerImage of image floor(i / blocksPerImage). */
export function conv2dBlocks(a: Conv2dArgs, start: number, end: number): void {
  const { x, w, bias, y, channels: C, height: H, width: W, outChannels: O, kernelH: KH, kernelW: KW, padding: P } = a;
  const { oh, ow } = convOutputSize(a);
  const pixels = oh * ow, K = C * KH * KW;
  const blocksPerImage = Math.ceil(pixels / CONV_BLOCK);
  const panel = new Float32Array(CONV_BLOCK * K);
  const result = new Float32Array(CONV_BLOCK * O);
  for (let item = start; item < end; item++) {
    const image = Math.floor(item / blocksPerImage);
    const p0 = (item % blocksPerImage) * CONV_BLOCK;
    const rows = Math.min(CONV_BLOCK, pixels - p0);
    const xBase = image * C * H * W;
    // panel[r][(c, ky, kx)] = x[c][oy + ky - P][ox + kx - P], or 0 outside the image.
    for (let r = 0; r < rows; r++) {
      const oy = Math.floor((p0 + r) / ow), ox = (p0 + r) % ow;
      let k = r * K;
      for (let c = 0; c < C; c++) {
        const plane = xBase + c * H * W;
        for (let ky = 0; ky < KH; ky++) {
          const iy = oy + ky - P;
          const inRow = iy >= 0 && iy < H;
          for (let kx = 0; kx < KW; kx++, k++) {
            const ix = ox + kx - P;
            panel[k] = inRow && ix >= 0 && ix < W ? x[plane + iy * W + ix] : 0;
          }
        }
      }
    }
    linearColumns({ x: panel.subarray(0, rows * K), w, bias, y: result, m: rows, k: K, n: O, act: 'none' }, 0, O);
    const yBase = image * O * pixels + p0;
    for (let o = 0; o < O; o++) {
      const dst = yBase + o * pixels;
      for (let r = 0; r < rows; r++) y[dst + r] = result[r * O + o];
    }
  }
}
