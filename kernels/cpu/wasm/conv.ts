// The CPU's 2-D convolution (stride 1, zero padding) on the WebAssembly SIMD matmul kernel, the same
// contract as kernels/cpu/conv.ts (the TypeScript reference it is tested against).
//
// A convolution is a matrix product: output pixel p, channel o = bias[o] + im2col[p] · w[o], with w
// [O][C*KH*KW] in its stored order and im2col row p the input values under the kernel in the same
// (c, ky, kx) order. The 4x8 kernel of matmul.ts takes x as strips of 4 rows; here 4 rows are 4
// adjacent pixels of one output row, and their values at one (c, ky, kx) are 4 adjacent floats of one
// input row: one v128 copy. So the strips are built in WebAssembly (the module's im2col) straight from
// a zero-padded copy of the input rows, never as im2col rows in TypeScript, and w's panels are the
// same ones a linear layer uses (the CPU backend packs each weight once).
//
// Blocking. Work goes in bands of output rows (about BAND_PIXELS pixels; output rows padded to a
// multiple of 4 pixels so a strip never straddles two): per band, the input rows under it are copied
// into a zero-padded slab [C][rows + KH - 1][owPad + KW - 1], then K is taken in chunks of whole
// channels (about K_CHUNK values): per chunk the band's strips are packed, and the kernel runs every
// panel of w over them, the first chunk starting from the bias, the later ones adding to y. A chunk's
// strips (BAND_PIXELS x K_CHUNK floats, 512 KiB) stay in L2 and one panel's chunk (8 x K_CHUNK, 16 KiB)
// in L1 while w streams past once per band, whatever C is: a VAE's 512-channel 3x3 conv has K = 4608,
// whose panels (147 KiB each, 9.4 MiB in all) fit neither.
//
// The band's y block is pixel-major [pixels][O padded to 8], as the kernel writes it; it is copied out
// transposed into the NCHW output (O(pixels O) scalar moves against O(pixels O K) multiply-adds).
// Threads split the (image, band) work items; each copies w's panels into its memory once per call.

import { convOutputSize, type Conv2dArgs } from '../conv.js';
import { COLS, getInstance, packBias, reserve, ROWS } from './matmul.js';

export interface SimdConv2dArgs extends Conv2dArgs {
  /** w [O][C*KH*KW] as panels (packPanelRange), from the CPU backend's cache. */
  panels: Float32Array;
}

/** Output pixels per band (at least one output row). */
const BAND_PIXELS = 256;
/** Values of K per chunk (whole channels, at least one). */
const K_CHUNK = 512;

/** Output rows per band: work items are bands, n * ceil(oh / bandRows) of them. */
export function convBandRows(a: Pick<Conv2dArgs, 'height' | 'width' | 'kernelH' | 'kernelW' | 'padding'>): number {
  const { ow } = convOutputSize(a);
  return Math.max(1, Math.floor(BAND_PIXELS / (Math.ceil(ow / ROWS) * ROWS)));
}

/** Computes the work items [start, end): item i is band i % bands of image floor(i / bands). */
export function conv2dBandsSimd(a: SimdConv2dArgs, start: number, end: number): void {
  if (end <= start) return;
  const { x, bias, y, channels: C, height: H, width: W, outChannels: O, kernelH: KH, kernelW: KW, padding: P } = a;
  const { oh, ow } = convOutputSize(a);
  const K = C * KH * KW, taps = KH * KW;
  const owPad = Math.ceil(ow / ROWS) * ROWS, rowFloats = owPad + KW - 1;
  const R = convBandRows(a), bands = Math.ceil(oh / R), slabRows = R + KH - 1;
  // Channels per chunk, spread evenly: chunks of 56, 56, 58 beat 56, 56, 56, 2.
  const chunks = Math.ceil(C / Math.max(1, Math.floor(K_CHUNK / taps)));
  const perChunk = Math.ceil(C / chunks);
  const oPad = Math.ceil(O / COLS) * COLS, panels = oPad / COLS;
  const inst = getInstance();
  // Scratch layout in floats: w's panels, bias, slab, strips of one chunk, y block.
  const wOff = 0, bOff = wOff + oPad * K, sOff = bOff + oPad, xOff = sOff + C * slabRows * rowFloats;
  const yOff = xOff + R * owPad * perChunk * taps;
  reserve(inst, yOff + R * owPad * oPad);
  const heap = inst.heap;
  heap.set(a.panels, wOff);
  packBias(bias, heap, bOff, 0, O);
  for (let item = start; item < end; item++) {
    const image = Math.floor(item / bands), oy0 = (item % bands) * R;
    const rows = Math.min(R, oh - oy0);
    // Slab row sy, column sx holds input (oy0 - P + sy, sx - P), zero outside the image.
    heap.fill(0, sOff, xOff);
    for (let c = 0; c < C; c++) {
      for (let sy = 0; sy < rows + KH - 1; sy++) {
        const iy = oy0 - P + sy;
        if (iy < 0 || iy >= H) continue;
        const src = ((image * C + c) * H + iy) * W;
        heap.set(x.subarray(src, src + W), sOff + (c * slabRows + sy) * rowFloats + P);
      }
    }
    const stripsPerRow = owPad / ROWS;
    for (let c0 = 0; c0 < C; c0 += perChunk) {
      const kc = Math.min(perChunk, C - c0) * taps, stripBytes = kc * ROWS * 4;
      for (let r = 0; r < rows; r++) {
        const src = sOff + (c0 * slabRows + r) * rowFloats, dst = xOff + r * stripsPerRow * kc * ROWS;
        inst.im2col(src * 4, dst * 4, stripsPerRow, kc / taps, KH, KW, slabRows * rowFloats * 4, rowFloats * 4, stripBytes);
      }
      // This chunk's part of each panel starts c0 * taps steps in; panels stay K steps apart.
      inst.panels(xOff * 4, (wOff + c0 * taps * COLS) * 4, bOff * 4, yOff * 4, rows * stripsPerRow, panels, stripBytes, oPad * 4, K * COLS * 4, c0 === 0 ? 0 : 1);
    }
    // y block [pixel (r, ox)][o] -> y[image][o][oy0 + r][ox], a panel's 8 channels at a time: each
    // pixel's 8 values are one cache line of the block, written to 8 output rows that each run on.
    for (let o0 = 0; o0 < O; o0 += COLS) {
      const o1 = Math.min(O, o0 + COLS);
      for (let r = 0; r < rows; r++) {
        const dst = ((image * O + o0) * oh + oy0 + r) * ow, plane = oh * ow;
        let src = yOff + r * owPad * oPad + o0;
        for (let ox = 0; ox < ow; ox++, src += oPad) {
          for (let o = o0, d = dst + ox, q = src; o < o1; o++, d += plane, q++) y[d] = heap[q];
        }
      }
    }
  }
}
