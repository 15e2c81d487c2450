// The CPU's linear layer as WebAssembly SIMD: y[M,N] = act(x[M,K] · w[N,K]^T + bias), the same
// contract as kernels/cpu/matmul.ts (the TypeScript reference it is tested against).
//
// Register blocking: 4 rows x 8 columns of y = 8 f32x4 accumulators. At each step of K the kernel
// loads 8 consecutive columns of w as two f32x4 and, for each of the 4 rows, one x value splatted to
// all lanes (v128.load32_splat), then does 8 vector multiply-adds: 32 FLOP pairs for 6 loads, against
// 16 for 8 in the scalar 4x4 kernel. Live vectors: 8 accumulators + 2 of w + 1 splat (+1 product
// without FMA) = 11-12 of the 16 XMM registers x64 gives V8, so nothing spills. A 6x8 block (12
// accumulators, 15 live) only just fits and measured no faster here. The K loop is not unrolled:
// TurboFan (V8 11.3) schedules every load of an unrolled body ahead of its multiply-adds and then
// spills accumulators; unrolled by 2 the kernel ran at ~30 GFLOP/s on one core here, as written ~50.
// This is the outer-product form of a GEMM micro-kernel: no horizontal sums, any K, and (once the
// operands are packed) only unit-stride loads.
//
// Packing (BLAS style). The micro-kernel wants, per step of K, 8 adjacent columns of w and 4 adjacent
// values of x; PyTorch's layouts have K innermost instead. So before the kernel runs, the driver copies
// a block of w into "panels" [N/8][K][8] and a block of x into "strips" [M/4][K][4] inside the
// module's own memory, padding N to a multiple of 8 and M to 4 with zeros (a zero row or column only
// produces outputs that are not copied back), and the bias into a zero-padded vector the
// accumulators start from. Then the SIMD code has no edge cases at all: every size that
// does not divide the blocks is handled by the copies, in TypeScript. A weight's panels do not change
// between calls, so the CPU backend packs each weight once (packPanelRange, split over its threads) and
// keeps them with the weight's storage; a call then copies its block of panels with one memcpy
// (TypedArray.set) instead of gathering w's rows with stride 8.
//
// Cache blocking. The loop order is: for each panel of w (8 x K floats, 12 KiB at K = 384: stays in
// L1), for each strip of x (from a block of x sized to stay in L2), run the 4x8 micro-kernel over K.
// So per step of K, 16 bytes of x come from L2 and 32 of w from L1. Blocks of x and w bound the scratch
// memory whatever the problem size.
//
// Threads and memory. Each thread (the main one and every worker, see core/cpu/threads.ts) has its
// own instance of this module with its own, private WebAssembly.Memory, and copies (packs) its share
// of the operands into it; the results are copied back into y's SharedArrayBuffer row by row. We do
// not share one WebAssembly.Memory per worker set, because the copy is needed anyway: the tensors
// live in SharedArrayBuffers owned by the backend (a DiT-XL checkpoint alone is 2.7 GB of f32, and a
// wasm32 memory is at most 4 GiB), so the kernel cannot compute on them in place, and packing is what
// makes the inner loop unit-stride. With private memories, threads never coordinate over layout or
// growth. The cost is O(M K + N K + M N) copies against O(M N K) multiply-adds (about 1 ms of 12 for a
// DiT-S/2 linear [512, 384] x [1536, 384]^T on one core), and x is packed once per thread, not once.
//
// Epilogue. The bias is added in registers (the accumulators start from it); GELU/SiLU run over the y
// block in the module's memory before it is copied back, with the SIMD activations of math.ts that
// the gelu/silu ops also run, so a fused linear+gelu equals gelu(linear) on the simd path (and agrees
// with kernels/cpu/activations.ts, the TypeScript definition, to f32 rounding).
//
// Accuracy. Accumulation is in f32 (the TypeScript kernel accumulates in f64 and rounds once), so
// results agree with it to f32 rounding: a relative error of order sqrt(K) * 2^-24.
//
// FMA. With relaxed SIMD, f32x4.relaxed_madd compiles to one vfmadd on x64 with FMA3 (the engine may
// also leave it unfused); otherwise f32x4.mul + f32x4.add. We feature-detect by validating the
// module built with relaxed_madd (WebAssembly.validate). Node 20 (V8 11.3) ships fixed-width SIMD
// but not relaxed SIMD: it needs `node --experimental-wasm-relaxed-simd` (workers inherit the flag);
// later V8s (Chrome 114+, Node 22) ship it unflagged.

import { linearColumns, type LinearArgs } from '../matmul.js';
import { emitActivation, emitLayerNorm, emitSoftmax } from './math.js';
import { ModuleBuilder, wasm, type FunctionBuilder, type Local, type WasmMemory } from './module.js';

/** Rows of y per micro-tile. */
export const ROWS = 4;
/** Columns of y per micro-tile: two f32x4. */
export const COLS = 8;

/** Floats of packed x per block: 256 KiB, a quarter of this machine's per-core L2. */
const X_BLOCK_FLOATS = 65536;
/** Floats of packed w per block (4 MiB): bounds the scratch memory; w is streamed once per x block. */
const W_BLOCK_FLOATS = 1 << 20;
/** At most this many rows and columns per block, so the y block stays small when K is. */
const MAX_BLOCK_ROWS = 256;
const MAX_BLOCK_COLS = 2048;

export interface MatmulVariant {
  /** f32x4.relaxed_madd instead of f32x4.mul + f32x4.add. */
  fma: boolean;
}

/**
 * The module: an imported memory "env"."memory" and two exported functions.
 *   panels(xp, wp, bp, yp, strips, panels, stripBytes, ldy, panelBytes, acc)
 * for p < panels and s < strips, computes the 4x8 tile of y at row 4s, column 8p over the K steps of
 * a strip (K = stripBytes / 16):
 *   xp: packed x, strips of 4 rows [K][4] (stripBytes apart)
 *   wp: packed w, panels of 8 columns [K][8] (panelBytes apart: 2 * stripBytes, or more where the
 *       strips hold one chunk of a longer K and wp points at that chunk inside each panel)
 *   bp: bias, 8 floats per panel;  yp: y, row-major with ldy bytes per row
 *   acc: 0: y = bias + x w; 1: y += x w (the later chunks of K, kernels/cpu/wasm/conv.ts).
 *   im2col(src, dst, strips, channels, kh, kw, planeBytes, rowBytes, stripBytes)
 * packs the strips of a convolution: strip s (4 adjacent output pixels of one row) at dst + s *
 * stripBytes gets, for each (c, ky, kx) in that order, the 4 floats at src + 16 s + c * planeBytes +
 * ky * rowBytes + 4 kx of a zero-padded input [channels][rows][rowBytes / 4]: one v128 copy each.
 * And the row kernels of kernels/cpu/wasm/math.ts (gelu, silu, softmax, layerNorm), which share this
 * memory and so this instance.
 */
export function matmulModule(v: MatmulVariant): Uint8Array<ArrayBuffer> {
  return new ModuleBuilder()
    .importMemory({ module: 'env', name: 'memory', minPages: 1 })
    .function('panels', new Array<'i32'>(10).fill('i32'), [], (f) => emitPanels(f, v))
    .function('im2col', new Array<'i32'>(9).fill('i32'), [], emitIm2col)
    .function('gelu', ['i32', 'i32'], [], (f) => emitActivation(f, 'gelu'))
    .function('silu', ['i32', 'i32'], [], (f) => emitActivation(f, 'silu'))
    .function('softmax', ['i32', 'i32', 'i32', 'f32'], [], emitSoftmax)
    .function('layerNorm', ['i32', 'i32', 'i32', 'i32', 'f32', 'f32', 'i32', 'i32'], [], emitLayerNorm)
    .build();
}

function emitPanels(f: FunctionBuilder, v: MatmulVariant): void {
  const xp = f.param(0, 'i32'), wp = f.param(1, 'i32'), bp = f.param(2, 'i32'), yp = f.param(3, 'i32');
  const strips = f.param(4, 'i32'), panels = f.param(5, 'i32'), stripBytes = f.param(6, 'i32'), ldy = f.param(7, 'i32');
  const panelBytes = f.param(8, 'i32'), acc = f.param(9, 'i32');
  const s = f.local('i32'), xa = f.local('i32'), wa = f.local('i32'), xEnd = f.local('i32'), yRow = f.local('i32');
  const b0 = f.local('v128'), b1 = f.local('v128');
  const w0 = f.local('v128'), w1 = f.local('v128'), a = f.local('v128');
  // c[r][h]: row r of the tile, columns 4h..4h+3.
  const c: Local<'v128'>[][] = [];
  for (let r = 0; r < ROWS; r++) c.push([f.local('v128'), f.local('v128')]);
  /** Pushes the address of row r of the current tile of y. */
  const yRowAddress = (r: number) => {
    f.get(yRow);
    for (let i = 0; i < r; i++) f.get(ldy).i32Add();
  };

  /** c += a * w */
  const madd = (acc: Local<'v128'>, wv: Local<'v128'>) => {
    if (v.fma) f.get(a).get(wv).get(acc).f32x4RelaxedMadd().set(acc);
    else f.get(acc).get(a).get(wv).f32x4Mul().f32x4Add().set(acc);
  };

  f.loop(() => { // over panels of w (and the columns of y they make)
    f.get(bp).v128Load(0).set(b0);
    f.get(bp).v128Load(16).set(b1);
    f.get(xp).set(xa);
    f.get(yp).set(yRow);
    f.get(strips).set(s);
    f.loop(() => { // over strips of x (and the rows of y they make)
      for (let r = 0; r < ROWS; r++) {
        f.get(b0).set(c[r][0]);
        f.get(b1).set(c[r][1]);
      }
      f.block(() => { // acc: start from the tile of y instead
        f.get(acc).i32Eqz().brIf(0);
        for (let r = 0; r < ROWS; r++) {
          yRowAddress(r);
          f.v128Load(0).set(c[r][0]);
          yRowAddress(r);
          f.v128Load(16).set(c[r][1]);
        }
      });
      f.get(wp).set(wa);
      f.get(xa).get(stripBytes).i32Add().set(xEnd);
      f.loop(() => { // over K, one step at a time (K >= 1)
        f.get(wa).v128Load(0).set(w0);
        f.get(wa).v128Load(16).set(w1);
        for (let r = 0; r < ROWS; r++) {
          f.get(xa).v128Load32Splat(4 * r).set(a);
          madd(c[r][0], w0);
          madd(c[r][1], w1);
        }
        f.get(xa).i32Const(4 * ROWS).i32Add().set(xa);
        f.get(wa).i32Const(4 * COLS).i32Add().set(wa);
        f.get(xa).get(xEnd).i32LtU().brIf(0);
      });
      // xa now points at the next strip. Store the tile: row r at yRow + r * ldy.
      for (let r = 0; r < ROWS; r++) {
        yRowAddress(r);
        f.get(c[r][0]).v128Store(0);
        yRowAddress(r);
        f.get(c[r][1]).v128Store(16);
      }
      f.get(yRow).get(ldy).i32Const(ROWS).i32Mul().i32Add().set(yRow);
      f.get(s).i32Const(1).i32Sub().tee(s).brIf(0);
    });
    // Next panel: w advances panelBytes, bias and y 8 floats.
    f.get(wp).get(panelBytes).i32Add().set(wp);
    f.get(bp).i32Const(4 * COLS).i32Add().set(bp);
    f.get(yp).i32Const(4 * COLS).i32Add().set(yp);
    f.get(panels).i32Const(1).i32Sub().tee(panels).brIf(0);
  });
}

function emitIm2col(f: FunctionBuilder): void {
  const src = f.param(0, 'i32'), dst = f.param(1, 'i32'), strips = f.param(2, 'i32'), channels = f.param(3, 'i32');
  const kh = f.param(4, 'i32'), kw = f.param(5, 'i32'), planeBytes = f.param(6, 'i32'), rowBytes = f.param(7, 'i32');
  const stripBytes = f.param(8, 'i32');
  const d = f.local('i32'), plane = f.local('i32'), row = f.local('i32'), q = f.local('i32');
  const c = f.local('i32'), y = f.local('i32'), x = f.local('i32');
  // Every count is at least 1, so each loop is a do-while.
  f.loop(() => { // over strips: the source moves 4 pixels, the destination one strip
    f.get(dst).set(d);
    f.get(src).set(plane);
    f.get(channels).set(c);
    f.loop(() => {
      f.get(plane).set(row);
      f.get(kh).set(y);
      f.loop(() => {
        f.get(row).set(q);
        f.get(kw).set(x);
        f.loop(() => {
          f.get(d).get(q).v128Load(0).v128Store(0);
          f.get(d).i32Const(16).i32Add().set(d);
          f.get(q).i32Const(4).i32Add().set(q);
          f.get(x).i32Const(1).i32Sub().tee(x).brIf(0);
        });
        f.get(row).get(rowBytes).i32Add().set(row);
        f.get(y).i32Const(1).i32Sub().tee(y).brIf(0);
      });
      f.get(plane).get(planeBytes).i32Add().set(plane);
      f.get(c).i32Const(1).i32Sub().tee(c).brIf(0);
    });
    f.get(src).i32Const(16).i32Add().set(src);
    f.get(dst).get(stripBytes).i32Add().set(dst);
    f.get(strips).i32Const(1).i32Sub().tee(strips).brIf(0);
  });
}

/** Whether this runtime compiles the module with relaxed_madd, and whether it compiles it at all. */
export function detectMatmulVariant(): MatmulVariant | null {
  if (!wasm) return null;
  if (wasm.validate(matmulModule({ fma: true }))) return { fma: true };
  if (wasm.validate(matmulModule({ fma: false }))) return { fma: false };
  return null;
}

let detected: MatmulVariant | null | undefined;

/** The kernel this runtime runs (detected once per thread), or null without WebAssembly SIMD. */
export function matmulVariant(): MatmulVariant | null {
  if (detected === undefined) detected = detectMatmulVariant();
  return detected;
}

/** One thread's compiled kernels and the memory they pack into. */
export interface Instance {
  variant: MatmulVariant;
  memory: WasmMemory;
  panels: (xp: number, wp: number, bp: number, yp: number, strips: number, panels: number, stripBytes: number, ldy: number, panelBytes: number, acc: number) => void;
  im2col: (src: number, dst: number, strips: number, channels: number, kh: number, kw: number, planeBytes: number, rowBytes: number, stripBytes: number) => void;
  gelu: (p: number, groups: number) => void;
  silu: (p: number, groups: number) => void;
  softmax: (p: number, rows: number, groups: number, scale: number) => void;
  layerNorm: (p: number, rows: number, dim: number, groups: number, invDim: number, eps: number, shift: number, scale: number) => void;
  /** A view of the whole memory; replaced after every grow (growing detaches the old buffer). */
  heap: Float32Array;
}

/** This thread's instance (one per variant, made on first use). */
const instances = new Map<boolean, Instance>();

export function getInstance(variant = matmulVariant()): Instance {
  if (!wasm || !variant) throw new Error('WebAssembly SIMD is not available in this runtime (use DITTO_CPU_KERNELS=ts)');
  let inst = instances.get(variant.fma);
  if (!inst) {
    const memory = new wasm.Memory({ initial: 16 });
    const module = new wasm.Module(matmulModule(variant));
    const exports = new wasm.Instance(module, { env: { memory } }).exports;
    const e = exports as unknown as Omit<Instance, 'variant' | 'memory' | 'heap'>;
    inst = { variant, memory, panels: e.panels, im2col: e.im2col, gelu: e.gelu, silu: e.silu, softmax: e.softmax, layerNorm: e.layerNorm, heap: new Float32Array(memory.buffer) };
    instances.set(variant.fma, inst);
  }
  return inst;
}

/** Grows the instance's memory to hold `floats` (it never shrinks: the next call needs it again). */
export function reserve(inst: Instance, floats: number): void {
  const have = inst.memory.buffer.byteLength;
  if (floats * 4 <= have) return;
  inst.memory.grow(Math.ceil((floats * 4 - have) / 65536));
  inst.heap = new Float32Array(inst.memory.buffer);
}

/** The linear's arguments, plus w already packed into panels where the caller keeps them (packedPanels). */
export interface SimdLinearArgs extends LinearArgs {
  /** w as panels [ceil(N/8)][K][8] (packPanels over all N columns), or null to pack per call. */
  panels?: Float32Array | null;
  /** DiT's gated residual as the epilogue, or none: see GatedResidual. */
  residual?: GatedResidual | null;
}

/**
 * y = x + gate[b] * linear(...) (after the activation), row i of y in batch item b = floor(i /
 * rowsPerBatch), gate[b] the columns [offset, offset + N) of row b of table [B, width]: the residual
 * folded into the copy of y out of the kernel's memory, so it costs no pass of its own.
 */
export interface GatedResidual {
  x: Float32Array;
  table: Float32Array;
  width: number;
  offset: number;
  rowsPerBatch: number;
}

/** Floats of w packed into panels: N padded to 8 columns. */
export function packedPanelsLength(n: number, k: number): number {
  return Math.ceil(n / COLS) * COLS * k;
}

/**
 * Columns [c0, c0 + nc) of a matrix into panels [ceil(nc/8)][K][8] at out[o..], zero-padded to 8
 * columns: column c at step kk is src[c * colStride + kk * kStride] (w [N][K]: K, 1; for the transpose
 * of v [T][D], so that D is the column: 1, D).
 */
export function packPanels(src: Float32Array, colStride: number, kStride: number, K: number, c0: number, nc: number, out: Float32Array, o: number): void {
  const padded = Math.ceil(nc / COLS) * COLS;
  // Only the last panel has padding columns.
  if (padded !== nc) out.fill(0, o + (padded - COLS) * K, o + padded * K);
  for (let c = 0; c < nc; c++) {
    let s = (c0 + c) * colStride;
    let dst = o + (c - (c % COLS)) * K + (c % COLS);
    for (let kk = 0; kk < K; kk++, dst += COLS, s += kStride) out[dst] = src[s];
  }
}

/** What the thread pool splits when it packs a weight's panels once (work items: panels). */
export interface PanelArgs {
  w: Float32Array;
  n: number;
  k: number;
  panels: Float32Array;
}

/** Packs panels [start, end) of w [N][K] into args.panels (laid out as packedPanelsLength says). */
export function packPanelRange(a: PanelArgs, start: number, end: number): void {
  const c0 = start * COLS, nc = Math.min(a.n, end * COLS) - c0;
  if (nc > 0) packPanels(a.w, a.k, 1, a.k, c0, nc, a.panels, c0 * a.k);
}

/**
 * Computes output columns [colStart, colEnd) for every row, like linearColumns (any colStart; a
 * multiple of 8 saves padding, and lets prepacked panels be copied instead of packed). `variant`
 * forces the FMA or mul+add kernel (tests).
 */
export function linearColumnsSimd(a: SimdLinearArgs, colStart: number, colEnd: number, variant?: MatmulVariant): void {
  const { m: M, k: K } = a;
  if (colEnd <= colStart || M === 0) return;
  // K = 0 (y is the bias) would run the kernel's loop over K once: leave it to the reference.
  if (K === 0) return linearNoK(a, colStart, colEnd);
  const inst = getInstance(variant);
  const prepacked = a.panels && colStart % COLS === 0 ? a.panels : null;
  const blockCols = Math.max(COLS, Math.min(MAX_BLOCK_COLS, Math.floor(W_BLOCK_FLOATS / K / COLS) * COLS));
  const blockRows = Math.max(ROWS, Math.min(MAX_BLOCK_ROWS, Math.floor(X_BLOCK_FLOATS / K / ROWS) * ROWS));
  const ncPad = Math.min(blockCols, Math.ceil((colEnd - colStart) / COLS) * COLS);
  const mcPad = Math.min(blockRows, Math.ceil(M / ROWS) * ROWS);
  // Scratch layout in floats: packed w block, bias, packed x block, y block.
  const wOff = 0, bOff = wOff + ncPad * K, xOff = bOff + ncPad, yOff = xOff + mcPad * K;
  reserve(inst, yOff + mcPad * ncPad);
  for (let j0 = colStart; j0 < colEnd; j0 += ncPad) {
    const nc = Math.min(ncPad, colEnd - j0);
    const panels = Math.ceil(nc / COLS);
    // Prepacked: the block's panels are one contiguous run (a copy), else gathered from w's rows.
    if (prepacked) inst.heap.set(prepacked.subarray(j0 * K, (j0 + panels * COLS) * K), wOff);
    else packPanels(a.w, K, 1, K, j0, nc, inst.heap, wOff);
    packBias(a.bias, inst.heap, bOff, j0, nc);
    for (let i0 = 0; i0 < M; i0 += mcPad) {
      const mc = Math.min(mcPad, M - i0);
      const strips = Math.ceil(mc / ROWS);
      packX(a, inst.heap, xOff, i0, mc);
      inst.panels(xOff * 4, wOff * 4, bOff * 4, yOff * 4, strips, panels, K * ROWS * 4, panels * COLS * 4, K * COLS * 4, 0);
      unpackY(a, inst, yOff, panels * COLS, i0, mc, j0, nc);
    }
  }
}

/** K = 0: the reference's act(bias), then the residual over it. */
function linearNoK(a: SimdLinearArgs, colStart: number, colEnd: number): void {
  linearColumns(a, colStart, colEnd);
  const res = a.residual;
  if (!res) return;
  for (let i = 0; i < a.m; i++) {
    const g = Math.floor(i / res.rowsPerBatch) * res.width + res.offset;
    for (let j = colStart; j < colEnd; j++) a.y[i * a.n + j] = res.x[i * a.n + j] + res.table[g + j] * a.y[i * a.n + j];
  }
}

/** bias[j0, j0 + nc) into heap[bOff..], zero-padded to 8 columns (all zeros without a bias). */
export function packBias(bias: Float32Array | null, heap: Float32Array, bOff: number, j0: number, nc: number): void {
  const padded = Math.ceil(nc / COLS) * COLS;
  if (bias) heap.set(bias.subarray(j0, j0 + nc), bOff);
  heap.fill(0, bias ? bOff + nc : bOff, bOff + padded);
}

/**
 * x rows [i0, i0 + mc) into strips [mc/4][K][4], zero-padded to 4 rows. A full strip is written in
 * order, its 4 rows read side by side (sequential stores: about 2x the row-by-row scatter here).
 */
function packX(a: LinearArgs, heap: Float32Array, xOff: number, i0: number, mc: number): void {
  const { x, k: K } = a;
  for (let r0 = 0; r0 < mc; r0 += ROWS) {
    const s0 = (i0 + r0) * K, d0 = xOff + r0 * K;
    if (r0 + ROWS <= mc) {
      const s1 = s0 + K, s2 = s1 + K, s3 = s2 + K;
      for (let kk = 0, d = d0; kk < K; kk++, d += ROWS) {
        heap[d] = x[s0 + kk];
        heap[d + 1] = x[s1 + kk];
        heap[d + 2] = x[s2 + kk];
        heap[d + 3] = x[s3 + kk];
      }
      continue;
    }
    heap.fill(0, d0, d0 + ROWS * K);
    for (let r = 0; r < mc - r0; r++) {
      for (let kk = 0; kk < K; kk++) heap[d0 + kk * ROWS + r] = x[s0 + r * K + kk];
    }
  }
}

/** The activation over the y block (in the module's memory), then its valid mc x nc corner back into y. */
function unpackY(a: SimdLinearArgs, inst: Instance, yOff: number, ld: number, i0: number, mc: number, j0: number, nc: number): void {
  const { y, n: N, act, residual: res } = a;
  // mc * ld is a multiple of 8 (ld: whole panels).
  if (act !== 'none') inst[act](yOff * 4, (mc * ld) / 4);
  const heap = inst.heap;
  for (let r = 0; r < mc; r++) {
    const src = yOff + r * ld, dst = (i0 + r) * N + j0;
    if (!res) {
      y.set(heap.subarray(src, src + nc), dst);
      continue;
    }
    const g = Math.floor((i0 + r) / res.rowsPerBatch) * res.width + res.offset + j0;
    for (let c = 0; c < nc; c++) y[dst + c] = res.x[dst + c] + res.table[g + c] * heap[src + c];
  }
}
