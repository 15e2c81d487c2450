// Matrix multiply: the linear layer y = act(alpha * x·w^T + b) with w in PyTorch's [N, K] layout, and
// its batched form C[i] = alpha * A[i]·B[i] (B as [N, K] or [K, N]) for unfused-attention benchmarks.
// Every size is baked into the WGSL; where M, N or K does not divide the block a kernel works in,
// loads past the edge read a clamped (valid) address and stores past it are skipped, and where it
// does divide, those checks are not generated at all. The bias and GELU/SiLU are applied in registers
// before the only store of C, so a linear+activation costs no extra pass over memory; so is DiT's gated
// residual (C = r + gate * C, `gated`), which saves the pass that would read C back after its linear.
//
// Three kernels, chosen per problem and adapter by `chooseMatmulPath`:
//
// 'tiled' (GPUs). One workgroup computes a BM x BN block of C; each of its (BM/TM) x (BN/TN)
// invocations owns a TM x TN block held in registers (TM * TN/4 vec4 accumulators). The K loop steps
// by BK: the workgroup copies the BM x BK slice of A and the BK x BN slice of B into workgroup memory
// (each invocation loading a few vec4s along K), waits at a barrier, and every invocation then does BK
// rank-1 updates from workgroup memory: per k, TM values of A and TN of B feed TM * TN multiply-adds.
// So each global value is loaded once per workgroup instead of once per output that uses it, and each
// workgroup-memory read feeds TM or TN FMAs. The tiles are stored k-major (As[k][m], Bs[k][n]) so the
// TM (TN) values an invocation needs at one k are adjacent.
//
// 'subgroup' (CPU-emulated adapters: lavapipe). lavapipe runs a workgroup on one CPU core, 8
// invocations at a time in the lanes of an AVX register, and every memory access whose address differs
// between invocations becomes 8 scalar loads with bounds checks, about 40 instructions, while an FMA on
// all 8 lanes is one. Workgroup memory does not help (its reads are per-lane too); what helps is doing
// many FMAs per value loaded. Here a workgroup is exactly one subgroup of S = 8 lanes computing a
// TM x (S*TN) block of C: lane l owns columns col0 + l + S*j (j < TN) for all TM rows. Per 4 steps of K
// each lane loads a vec4 of each of its TN rows of w, and a vec4 of only TM/S of the TM rows of x: the
// other lanes' rows come from subgroupBroadcast, which on lavapipe is a register shuffle. That is
// TN + TM/S vec4 loads for 4*TM*TN FMAs (32 x 4: 8 loads, 512 FMAs), against 8 loads for 64 FMAs in a
// 4x4 tiled kernel. On a GPU this layout would be slow (lanes read rows K apart: uncoalesced), hence
// two kernels.
//
// 'smallM' (GPUs, M <= 8: the adaLN and timestep projections, where M is the batch). A 64-row tile would
// be mostly empty, and the work is reading w once. One workgroup of 64 invocations computes 4 output
// columns for all M rows: invocation t multiplies the vec4s t, t+64, ... of K for each row and column
// (4M partial sums in registers), the partials go to workgroup memory, and after one barrier 4M
// invocations each add up one output's 64 partials and apply the epilogue. Every weight is read once.
// lavapipe keeps the subgroup kernel even there, its 8-row tiles mostly empty: the per-lane loads and
// the barrier cost it more than the idle rows (2x384x2304: 0.65 ms against 1.4-1.7 ms; 4x1152x6912,
// DiT-XL's adaLN at batch 4: 6-8 ms against 18-24 ms).
//
// Convolution (implicit GEMM). A stride-1 conv2d is this matmul with M = output pixels of one image,
// N = output channels, K = C * kh * kw, batch = images: B is the weight [O, C, kh, kw], whose rows are
// already [N, K] ('nk') in (c, ky, kx) order, and A[m][k] is the input value that output pixel m meets
// at weight element k (0 in the padding), the "im2col" matrix. A is never materialised (9x the input
// for a 3x3 kernel): where the 'tiled' and 'subgroup' kernels load an element of A, a conv problem
// computes its address instead (`im2col` below: a division of k by the constant kh * kw, a bounds test
// against the padding), and C, [M, N] per image, is stored transposed, as NCHW [N, M]. Everything else
// (blocking, registers, subgroup broadcasts, bias epilogue) is the matmul's, unchanged. A's elements
// are gathered one by one rather than as vec4s along K, so a conv does more loads per FMA than a
// Linear of the same size; the weights still come in vec4s.

import type { Activation } from '../../core/backend.js';
import { ACTIVATIONS_WGSL } from './activations.js';
import { ceilDiv, f32, opaque, u32, type Kernel, type KernelCaps } from './kernel.js';

export interface MatmulProblem {
  /** Independent products; A and C are [batch, M, ...]; B is shared unless bBatched. */
  batch: number;
  m: number;
  n: number;
  k: number;
  /** 'nk': B is [N, K] (PyTorch Linear weights, or the keys in q·k^T); 'kn': B is [K, N]. */
  bLayout: 'nk' | 'kn';
  bBatched: boolean;
  bias: boolean;
  act: Activation;
  /** Scales A·B before the bias (1 for a linear layer, head_dim^-0.5 for attention scores). */
  alpha: number;
  /** Set for a convolution (see the header): A is the im2col of x [batch, C, H, W], C is stored [batch, N, M]. */
  conv?: ConvGeometry;
  /** Set for a gated-residual epilogue (one product, no conv): see GatedEpilogue. */
  gated?: GatedEpilogue;
}

/**
 * C = residual + gate * C: residual [M, N] is bound after the bias, and the gate of row m is row
 * floor(m / tokens) of a table [M / tokens, width] at columns [offset, offset + N), bound after the
 * residual (DiT's adaLN output, its gate chunk read in place).
 */
export interface GatedEpilogue {
  tokens: number;
  width: number;
  offset: number;
}

/** A stride-1 convolution's input and kernel: its output is outH x outW with outH * outW = M. */
export interface ConvGeometry {
  channels: number;
  height: number;
  width: number;
  kernelH: number;
  kernelW: number;
  padding: number;
}

export type MatmulPath = 'tiled' | 'subgroup' | 'smallM';

/** Block shapes of the tiled path: BM, BN multiples of TM, TN; TN a multiple of 4. */
export interface TiledConfig {
  bm: number;
  bn: number;
  bk: number;
  tm: number;
  tn: number;
}

const DEFAULT_TILED: TiledConfig = { bm: 64, bn: 64, bk: 16, tm: 4, tn: 4 };

/** Rows x column groups per subgroup of the subgroup path: TM a multiple of the subgroup size. */
export interface SubgroupConfig {
  tm: number;
  tn: number;
}

interface MatmulOptions {
  path?: MatmulPath;
  tiled?: TiledConfig;
  subgroup?: SubgroupConfig;
}

/** M at or below this takes the small-M path (on GPUs). */
export const SMALL_M = 8;

export function matmulFlops(p: MatmulProblem): number {
  return 2 * p.batch * p.m * p.n * p.k;
}

/** The kernel a problem gets by default on an adapter with these caps. */
export function chooseMatmulPath(p: MatmulProblem, caps: KernelCaps): MatmulPath {
  // An empty batch (M = 0, nothing is dispatched) stays on small-M, whose code clamps no row index.
  if (caps.emulated && caps.subgroupSize && p.m > 0) return 'subgroup';
  if (p.m <= SMALL_M && p.bLayout === 'nk' && p.batch === 1 && !p.conv) return 'smallM';
  return 'tiled';
}

/** The kernel for one problem; `path` and `tiled` override the defaults (tests, benchmarks). */
export function matmulKernel(p: MatmulProblem, caps: KernelCaps, opts: MatmulOptions = {}): Kernel {
  const path = opts.path ?? chooseMatmulPath(p, caps);
  if (p.gated && (p.batch !== 1 || p.conv)) throw new Error('the gated-residual epilogue takes one product, not a batch or a conv');
  if (path === 'smallM') return smallMKernel(p, caps);
  if (path === 'subgroup') return subgroupKernel(p, caps, opts.subgroup);
  return tiledKernel(p, opts.tiled ?? DEFAULT_TILED);
}

function problemKey(p: MatmulProblem): string {
  const c = p.conv;
  const conv = c ? `|conv ${c.channels}x${c.height}x${c.width} k${c.kernelH}x${c.kernelW} p${c.padding}` : '';
  const g = p.gated;
  const gated = g ? `|gated ${g.tokens}:${g.width}:${g.offset}` : '';
  return `${p.batch}x${p.m}x${p.n}x${p.k}|${p.bLayout}${p.bBatched ? '+batched' : ''}|${p.bias ? 'bias' : ''}|${p.act}|${p.alpha}${conv}${gated}`;
}

/**
 * WGSL for `fn im2col(base: u32, m: u32, k: u32) -> f32`: A[m][k] of a convolution, read from the
 * image of binding `a` that starts at `base`. Pixel m is (m / outW, m % outW) and k is (c, ky, kx); the
 * input row is oy + ky - padding, computed in u32 so that a row above the image wraps to a huge value
 * and fails the same `< H` test as a row below it. Without padding every tap is inside the image and
 * no test is generated; a 1x1 kernel reads x[k][m] directly.
 */
function im2colFn(c: ConvGeometry): string {
  const { height: H, width: W, kernelH: KH, kernelW: KW, padding: P } = c;
  const outW = W + 2 * P - KW + 1;
  const HW = u32(H * W);
  if (KH === 1 && KW === 1 && P === 0) return `fn im2col(base: u32, m: u32, k: u32) -> f32 { return a[base + k * ${HW} + m]; }`;
  const taps = KH * KW;
  const at = `base + (k / ${u32(taps)}) * ${HW}`;
  return `fn im2col(base: u32, m: u32, k: u32) -> f32 {
  let t = k % ${u32(taps)};
  let iy = m / ${u32(outW)} + t / ${u32(KW)}${P ? ` - ${u32(P)}` : ''};
  let ix = m % ${u32(outW)} + t % ${u32(KW)}${P ? ` - ${u32(P)}` : ''};
  ${P ? `let inside = iy < ${u32(H)} && ix < ${u32(W)};
  return select(0.0f, a[${at} + select(0u, iy * ${u32(W)} + ix, inside)], inside);` : `return a[${at} + iy * ${u32(W)} + ix];`}
}`;
}

/**
 * The epilogue applied to a scalar or vec4 accumulator expression `v` with bias `b` (or null), for the
 * element(s) of C at index `out` of the output (in its elements, f32 or vec4), row `row`, column `col`.
 */
function epilogue(p: MatmulProblem, v: string, b: string | null, vec4: boolean, out: string, row: string, col: string): string {
  let e = p.alpha === 1 ? v : `${f32(p.alpha)} * ${v}`;
  if (b) e = `${e} + ${b}`;
  if (p.act !== 'none') e = vec4 ? `${p.act}4(${e})` : `${p.act}(${e})`;
  const g = p.gated;
  if (!g) return e;
  const gate = `(${row}) / ${u32(g.tokens)} * ${u32(g.width)} + ${u32(g.offset)} + ${col}`;
  return `residual[${out}] + gate[${vec4 ? `(${gate}) / 4u` : gate}] * (${e})`;
}

/** The bindings after A and B (the bias, the gated residual's two inputs, then C), their elements of `type`. */
function epilogueBindings(p: MatmulProblem, type: string): string {
  const names = [...(p.bias ? ['bias'] : []), ...(p.gated ? ['residual', 'gate'] : [])];
  return [
    ...names.map((name, i) => `@group(0) @binding(${2 + i}) var<storage, read> ${name}: array<${type}>;`),
    `@group(0) @binding(${2 + names.length}) var<storage, read_write> out: array<${type}>;`,
  ].join('\n');
}

/** GELU/SiLU (f32 and vec4 forms) where the epilogue needs them. */
const activations = (p: MatmulProblem): string => (p.act === 'none' ? '' : ACTIVATIONS_WGSL);

/** `a && b` of the conditions that are not empty, or '' if none. */
const all = (...conds: string[]): string => conds.filter(Boolean).join(' && ');

/** Elements from one batch entry of A to the next: a conv steps from image to image of x. */
const aStride = (p: MatmulProblem): number => (p.conv ? p.conv.channels * p.conv.height * p.conv.width : p.m * p.k);

/** The index in `out` of C[row][col] (WGSL expressions): row-major, or column-major (NCHW) for a conv. */
const cIndex = (p: MatmulProblem, row: string, col: string): string =>
  p.conv ? `cBase + (${col}) * ${u32(p.m)} + ${row}` : `cBase + (${row}) * ${u32(p.n)} + ${col}`;

// ---------------------------------------------------------------------------------------------
// 'tiled'

function tiledKernel(p: MatmulProblem, t: TiledConfig): Kernel {
  const { m: M, n: N, k: K } = p;
  const { bm: BM, bn: BN, bk: BK, tm: TM, tn: TN } = t;
  if (BM % TM || BN % TN || TN % 4 || BK % 4) throw new Error(`bad matmul tiling ${JSON.stringify(t)}`);
  const TX = BN / TN, TY = BM / TM, THREADS = TX * TY;
  // vec4 access along K for A (and B as [N,K]); along N for B as [K,N] and for C. A conv gathers A
  // one element at a time, and stores C transposed, where vec4s of C would run along N.
  const kVec = K % 4 === 0;
  const aVec = kVec && !p.conv;
  const bVec = p.bLayout === 'nk' ? kVec : N % 4 === 0;
  const cVec = N % 4 === 0 && !p.conv && (!p.gated || (p.gated.width % 4 === 0 && p.gated.offset % 4 === 0));
  const edgeM = M % BM !== 0, edgeN = N % BN !== 0, edgeK = K % BK !== 0;
  const vt = (vec: boolean) => (vec ? 'vec4<f32>' : 'f32');

  /**
   * Copies a K-contiguous operand's tile (`rows` rows starting at `origin`, BK columns from k0) into
   * workgroup memory, transposed to k-major: dst[k * rows + r]. Out-of-range elements become 0.
   */
  const loadKMajor = (dst: string, src: string, base: string, rows: number, origin: string, limit: number, edgeRows: boolean, vec: boolean): string => {
    const per = vec ? BK / 4 : BK; // loads per tile row
    const check = all(edgeRows ? `row < ${u32(limit)}` : '', edgeK ? `k < ${u32(K)}` : '');
    const index = `${base} + min(row, ${u32(limit - 1)}) * ${u32(K)} + min(k, ${u32(K - (vec ? 4 : 1))})`;
    const read = vec ? `${src}[(${index}) / 4u]` : `${src}[${index}]`;
    const store = vec ? [0, 1, 2, 3].map((j) => `${dst}[(kk + ${j}u) * ${u32(rows)} + r] = v[${j}];`).join(' ') : `${dst}[kk * ${u32(rows)} + r] = v;`;
    return `
    for (var e = tid; e < ${u32(rows * per)}; e += ${u32(THREADS)}) {
      let r = e / ${u32(per)};
      let kk = (e % ${u32(per)})${vec ? ' * 4u' : ''};
      let row = ${origin} + r;
      let k = k0 + kk;
      let v = ${check ? `select(${vec ? 'vec4<f32>()' : '0.0f'}, ${read}, ${check})` : read};
      ${store}
    }`;
  };
  /** B as [K, N]: rows of the tile are k already; vec4s along N go straight in. */
  const loadNMajor = (): string => {
    const per = bVec ? BN / 4 : BN;
    const check = all(edgeN ? `col < ${u32(N)}` : '', edgeK ? `k < ${u32(K)}` : '');
    const index = `bBase + min(k, ${u32(K - 1)}) * ${u32(N)} + min(col, ${u32(N - (bVec ? 4 : 1))})`;
    const read = bVec ? `b[(${index}) / 4u]` : `b[${index}]`;
    const store = bVec ? [0, 1, 2, 3].map((j) => `Bs[kk * ${u32(BN)} + c + ${j}u] = v[${j}];`).join(' ') : `Bs[kk * ${u32(BN)} + c] = v;`;
    return `
    for (var e = tid; e < ${u32(BK * per)}; e += ${u32(THREADS)}) {
      let kk = e / ${u32(per)};
      let c = (e % ${u32(per)})${bVec ? ' * 4u' : ''};
      let col = tileCol + c;
      let k = k0 + kk;
      let v = ${check ? `select(${bVec ? 'vec4<f32>()' : '0.0f'}, ${read}, ${check})` : read};
      ${store}
    }`;
  };

  /**
   * A of a conv, each element computed by im2col. Consecutive invocations take consecutive pixels
   * (neighbours in memory, mostly) and write consecutive workgroup-memory words. Rows past M are
   * clamped (never stored); columns past K are zeros.
   */
  const loadIm2col = (): string => {
    const read = `im2col(aBase, min(tileRow + r, ${u32(M - 1)}), ${edgeK ? `min(k, ${u32(K - 1)})` : 'k'})`;
    return `
    for (var e = tid; e < ${u32(BM * BK)}; e += ${u32(THREADS)}) {
      let r = e % ${u32(BM)};
      let kk = e / ${u32(BM)};
      let k = k0 + kk;
      As[kk * ${u32(BM)} + r] = ${edgeK ? `select(0.0f, ${read}, k < ${u32(K)})` : read};
    }`;
  };

  // The register block: acc_r_c holds C[row0 + r][col0 + 4c .. 4c+3].
  const accs: string[] = [];
  const inner: string[] = [];
  for (let r = 0; r < TM; r++) for (let c = 0; c < TN / 4; c++) accs.push(`var acc_${r}_${c} = vec4<f32>();`);
  for (let r = 0; r < TM; r++) inner.push(`let a${r} = As[kk * ${u32(BM)} + ty * ${u32(TM)} + ${r}u];`);
  for (let c = 0; c < TN / 4; c++) {
    const at = (j: number) => `Bs[kk * ${u32(BN)} + tx * ${u32(TN)} + ${4 * c + j}u]`;
    inner.push(`let b${c} = vec4<f32>(${[0, 1, 2, 3].map(at).join(', ')});`);
  }
  for (let r = 0; r < TM; r++) for (let c = 0; c < TN / 4; c++) inner.push(`acc_${r}_${c} = fma(vec4<f32>(a${r}), b${c}, acc_${r}_${c});`);

  const stores: string[] = [];
  for (let r = 0; r < TM; r++) {
    for (let c = 0; c < TN / 4; c++) {
      const row = `row0 + ${r}u`, col = `col0 + ${4 * c}u`;
      if (cVec) {
        const at = `(cBase + (${row}) * ${u32(N)} + ${col}) / 4u`;
        const v = epilogue(p, `acc_${r}_${c}`, p.bias ? `bias[(${col}) / 4u]` : null, true, at, row, col);
        const check = all(edgeM ? `${row} < ${u32(M)}` : '', edgeN ? `${col} < ${u32(N)}` : '');
        stores.push(`${check ? `if (${check}) ` : ''}{ out[${at}] = ${v}; }`);
      } else {
        for (let j = 0; j < 4; j++) {
          const at = cIndex(p, row, `${col} + ${j}u`);
          const v = epilogue(p, `acc_${r}_${c}[${j}]`, p.bias ? `bias[${col} + ${j}u]` : null, false, at, row, `${col} + ${j}u`);
          const check = all(edgeM ? `${row} < ${u32(M)}` : '', edgeN ? `${col} + ${j}u < ${u32(N)}` : '');
          stores.push(`${check ? `if (${check}) ` : ''}{ out[${at}] = ${v}; }`);
        }
      }
    }
  }

  return {
    key: `matmul.tiled|${problemKey(p)}|${BM}x${BN}x${BK}/${TM}x${TN}`,
    grid: [ceilDiv(N, BN), ceilDiv(M, BM), p.batch],
    wgsl: () => /* wgsl */ `
@group(0) @binding(0) var<storage, read> a: array<${vt(aVec)}>;
@group(0) @binding(1) var<storage, read> b: array<${vt(bVec)}>;
${epilogueBindings(p, vt(cVec))}
${activations(p)}
${p.conv ? im2colFn(p.conv) : ''}

// One step of K of the A and B tiles, k-major: As[k * BM + m] = A[tileRow + m][k0 + k].
var<workgroup> As: array<f32, ${BK * BM}>;
var<workgroup> Bs: array<f32, ${BK * BN}>;

@compute @workgroup_size(${TX}, ${TY})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let tx = lid.x;
  let ty = lid.y;
  let tid = ty * ${u32(TX)} + tx;
  let tileRow = wid.y * ${u32(BM)};
  let tileCol = wid.x * ${u32(BN)};
  let aBase = wid.z * ${u32(aStride(p))};
  let bBase = ${p.bBatched ? `wid.z * ${u32(N * K)}` : '0u'};
  let cBase = wid.z * ${u32(M * N)};
  ${accs.join('\n  ')}

  for (var k0 = 0u; k0 < ${u32(K)}; k0 += ${u32(BK)}) {${p.conv ? loadIm2col() : loadKMajor('As', 'a', 'aBase', BM, 'tileRow', M, edgeM, aVec)}${
      p.bLayout === 'nk' ? loadKMajor('Bs', 'b', 'bBase', BN, 'tileCol', N, edgeN, bVec) : loadNMajor()}
    workgroupBarrier();
    for (var kk = 0u; kk < ${u32(BK)}; kk++) {
      ${inner.join('\n      ')}
    }
    workgroupBarrier();
  }

  let row0 = tileRow + ty * ${u32(TM)};
  let col0 = tileCol + tx * ${u32(TN)};
  ${stores.join('\n  ')}
}`,
  };
}

// ---------------------------------------------------------------------------------------------
// 'subgroup'

function subgroupKernel(p: MatmulProblem, caps: KernelCaps, config?: SubgroupConfig): Kernel {
  const S = caps.subgroupSize;
  if (!S) throw new Error('the subgroup matmul needs a device with a fixed subgroup size');
  const { m: M, n: N, k: K } = p;
  // 32 rows x 4 column groups measured best on lavapipe (19 GFLOP/s at 512x384x1152, against 16 for
  // 16 x 4 and 17 for 48 x 4 or 32 x 8, where spilling the accumulators starts to cost); fewer rows
  // where the matrix has fewer.
  const TM = config?.tm ?? (M >= 4 * S ? 4 * S : M >= 2 * S ? 2 * S : S);
  const TN = config?.tn ?? Math.max(1, Math.min(4, Math.ceil(N / S)));
  if (TM % S !== 0) throw new Error(`subgroup matmul: ${TM} rows is not a multiple of the subgroup size ${S}`);
  const V = K % 4 === 0 ? 4 : 1; // K elements per load
  const vt = V === 4 ? 'vec4<f32>' : 'f32';
  const dot = (a: string, b: string, acc: string) =>
    V === 4 ? `fma(${a}.x, ${b}.x, fma(${a}.y, ${b}.y, fma(${a}.z, ${b}.z, fma(${a}.w, ${b}.w, ${acc}))))` : `fma(${a}, ${b}, ${acc})`;

  // Where each lane's rows of A and columns of B start (clamped: edge lanes load valid data and never store).
  const setup: string[] = [];
  for (let s = 0; s < TM / S; s++) {
    const row = `min(row0 + ${s * S}u + lane, ${u32(M - 1)})`;
    setup.push(p.conv ? `let m${s} = ${row};` : `let aRow${s} = aBase + ${row} * ${u32(K)};`);
  }
  for (let j = 0; j < TN; j++) {
    const col = `min(col0 + ${j * S}u + lane, ${u32(N - 1)})`;
    setup.push(p.bLayout === 'nk' ? `let bRow${j} = bBase + ${col} * ${u32(K)};` : `let bCol${j} = bBase + ${col};`);
  }
  const step: string[] = [];
  for (let s = 0; s < TM / S; s++) {
    if (p.conv) step.push(V === 4 ? `let as${s} = vec4<f32>(${[0, 1, 2, 3].map((i) => `im2col(aBase, m${s}, k + ${i}u)`).join(', ')});` : `let as${s} = im2col(aBase, m${s}, k);`);
    else step.push(V === 4 ? `let as${s} = a[(aRow${s} + k) / 4u];` : `let as${s} = a[aRow${s} + k];`);
  }
  for (let j = 0; j < TN; j++) {
    if (p.bLayout === 'nk') step.push(V === 4 ? `let b${j} = b[(bRow${j} + k) / 4u];` : `let b${j} = b[bRow${j} + k];`);
    else if (V === 4) step.push(`let b${j} = vec4<f32>(${[0, 1, 2, 3].map((i) => `b[bCol${j} + (k + ${i}u) * ${u32(N)}]`).join(', ')});`);
    else step.push(`let b${j} = b[bCol${j} + k * ${u32(N)}];`);
  }
  for (let i = 0; i < TM; i++) {
    step.push(`let a${i} = subgroupBroadcast(as${Math.floor(i / S)}, ${i % S}u);`);
    for (let j = 0; j < TN; j++) step.push(`acc[${i * TN + j}] = ${dot(`a${i}`, `b${j}`, `acc[${i * TN + j}]`)};`);
  }
  // The epilogue: bias per column, then one store loop. Its bound is opaque on purpose (a select, not
  // a min): lavapipe unrolls loops with a known bound, and every unrolled store is ~100 instructions
  // of per-lane code that the shader compiler must chew through (64 stores took it seconds).
  const stores: string[] = [];
  for (let j = 0; j < TN; j++) {
    const col = `col0 + ${j * S}u + lane`;
    stores.push(`{
    let col = ${col};
    ${p.bias ? `let bj = bias[min(col, ${u32(N - 1)})];` : ''}
    for (var i = 0u; i < rows; i++) {
      ${N % (S * TN) ? `if (col < ${u32(N)}) ` : ''}{ out[${cIndex(p, 'row0 + i', 'col')}] = ${epilogue(p, `acc[i * ${u32(TN)} + ${j}u]`, p.bias ? 'bj' : null, false, cIndex(p, 'row0 + i', 'col'), 'row0 + i', 'col')}; }
    }
  }`);
  }
  // A K that is not a multiple of 4 is read one element at a time (V = 1).
  return {
    key: `matmul.subgroup|${problemKey(p)}|${S}:${TM}x${TN}`,
    grid: [ceilDiv(N, S * TN), ceilDiv(M, TM), p.batch],
    wgsl: () => /* wgsl */ `enable subgroups;
@group(0) @binding(0) var<storage, read> a: array<${p.conv ? 'f32' : vt}>;
@group(0) @binding(1) var<storage, read> b: array<${p.bLayout === 'nk' ? vt : 'f32'}>;
${epilogueBindings(p, 'f32')}
${activations(p)}
${p.conv ? im2colFn(p.conv) : ''}

// One workgroup = one subgroup: lane l computes rows row0..row0+${TM - 1} of columns col0 + l + ${S}j, j < ${TN}.
@compute @workgroup_size(${S})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let row0 = wid.y * ${u32(TM)};
  let col0 = wid.x * ${u32(S * TN)};
  let aBase = wid.z * ${u32(aStride(p))};
  let bBase = ${p.bBatched ? `wid.z * ${u32(N * K)}` : '0u'};
  let cBase = wid.z * ${u32(M * N)};
  ${setup.join('\n  ')}
  // acc[i * ${TN} + j]: row row0 + i, column col0 + ${S}j + lane.
  var acc: array<f32, ${TM * TN}>;
  for (var k = 0u; k < ${u32(K)}; k += ${u32(V)}) {
    ${step.join('\n    ')}
  }
  let rows = ${M % TM ? `select(${u32(TM)}, ${u32(M)} - row0, row0 + ${u32(TM)} > ${u32(M)})` : `select(${u32(TM)}, 0u, row0 >= ${u32(M)})`};
  ${stores.join('\n  ')}
}`,
  };
}

// ---------------------------------------------------------------------------------------------
// 'smallM'

function smallMKernel(p: MatmulProblem, caps: KernelCaps): Kernel {
  const { m: M, n: N, k: K } = p;
  if (p.bLayout !== 'nk' || p.batch !== 1 || p.conv) throw new Error('the small-M matmul takes one [M,K]·[N,K]^T product');
  const W = 64, COLS = 4;
  const vec = K % 4 === 0;
  const K4 = vec ? K / 4 : K; // elements (vec4 or scalar) along K
  const type = vec ? 'vec4<f32>' : 'f32';
  const outputs = M * COLS;
  if (outputs * W * 4 > caps.maxWorkgroupStorage) throw new Error(`the small-M matmul cannot take M = ${M}`);
  const lines: string[] = [];
  for (let r = 0; r < M; r++) lines.push(`let x${r} = x[${u32(r * K4)} + e];`);
  for (let c = 0; c < COLS; c++) {
    // Columns past N (when N % 4 != 0) read row N-1 instead and are never stored.
    lines.push(`let w${c} = w[min(n0 + ${c}u, ${u32(N - 1)}) * ${u32(K4)} + e];`);
    for (let r = 0; r < M; r++) lines.push(`acc[${r * COLS + c}] += ${vec ? `dot(x${r}, w${c})` : `x${r} * w${c}`};`);
  }
  const groups = ceilDiv(N, COLS);
  const gx = Math.min(groups, caps.maxGridDim);
  return {
    key: `matmul.smallM|${problemKey(p)}`,
    grid: [gx, ceilDiv(groups, gx), 1],
    wgsl: () => /* wgsl */ `
@group(0) @binding(0) var<storage, read> x: array<${type}>;
@group(0) @binding(1) var<storage, read> w: array<${type}>;
${epilogueBindings(p, 'f32')}
${activations(p)}

// partial[o * W + t]: invocation t's share of output o = row * COLS + column.
var<workgroup> partial: array<f32, ${outputs * W}>;

@compute @workgroup_size(${W})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let n0 = (wid.x + wid.y * ${u32(gx)}) * ${u32(COLS)};
  var acc: array<f32, ${outputs}>;
  for (var e = t; e < ${u32(K4)}; e += ${u32(W)}) {
    ${lines.join('\n    ')}
  }
  for (var o = 0u; o < ${opaque(outputs)}; o++) { partial[o * ${u32(W)} + t] = acc[o]; }
  workgroupBarrier();
  if (t < ${u32(outputs)}) {
    let n = n0 + t % ${u32(COLS)};
    let row = t / ${u32(COLS)};
    // Four running sums instead of one: shorter dependency chains, and less rounding error.
    var s = vec4<f32>();
    for (var j = 0u; j < ${opaque(W)}; j += 4u) {
      let at = t * ${u32(W)} + j;
      s += vec4<f32>(partial[at], partial[at + 1u], partial[at + 2u], partial[at + 3u]);
    }
    if (n < ${u32(N)}) {
      out[row * ${u32(N)} + n] = ${epilogue(p, '(s.x + s.y + s.z + s.w)', p.bias ? 'bias[n]' : null, false, `row * ${u32(N)} + n`, 'row', 'n')};
    }
  }
}`,
  };
}
