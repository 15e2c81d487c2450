// Matrix multiply: the linear layer y = act(alpha * x·w^T + b) with w in PyTorch's [N, K] layout, and
// its batched form C[b] = alpha * A[b]·B[b] (B as [N, K] or [K, N]) for unfused attention benchmarks.
//
// Tiled path (M > 8). One workgroup computes a BM x BN block of C; its BM/TM x BN/TN invocations each own
// a TM x TN block of it, held in registers as TM * TN/4 vec4 accumulators. The K loop walks in steps
// of BK: the workgroup first copies the BM x BK slice of A and the BK x BN slice of B into workgroup
// memory (each invocation loading a few vec4s from global memory), waits at a barrier, and then every
// invocation runs BK rank-1 updates out of workgroup memory: per k it reads TM values of A and TN of B
// and does TM * TN multiply-adds. Each global value is thus loaded once per tile instead of once per
// output that uses it (BN times fewer loads of A, BM times fewer of B), and each workgroup-memory read
// feeds TM or TN FMAs from registers.
// The tiles are stored k-major (As[k][m], Bs[k][n]) so that the TM values an invocation needs at one k
// are adjacent and come out of workgroup memory as TM/4 vec4 reads; A and w are K-contiguous in global
// memory, so their loads are vec4s along K transposed on the way into workgroup memory.
// Edges: every size is baked into the WGSL. Where M, N or K does not divide the tile, loads past the
// edge read 0 (so they add nothing to the sums) and stores past the edge are skipped; where it does,
// those checks are not generated at all. vec4 global access needs K (A, B as [N,K]) or N (B as [K,N],
// C) to be a multiple of 4; otherwise the same loop runs on scalars.
// Epilogue: bias and GELU/SiLU are applied in registers before the only store of C, so a
// linear+activation costs no extra pass over memory.
//
// Small-M path (M <= 8: the adaLN and timestep projections, where M is the batch). A 64x64 tile would
// be 7/8 empty, and the work is dominated by reading w once. Here one workgroup of 64 invocations
// computes 4 output columns for all M rows: invocation t multiplies the vec4s t, t+64, t+128, ... of
// K for each row and column (M*4 partial sums in registers), the 64 partial sums per output are
// written to workgroup memory, and after one barrier M*4 invocations each add up one output's 64
// partials and apply the epilogue. Every weight is read exactly once, by exactly one invocation.

import type { Activation } from '../core/backend.js';
import { ACTIVATIONS_WGSL } from './elementwise.js';
import { ceilDiv, f32, u32, type Kernel, type KernelCaps } from './kernel.js';

export interface MatmulProblem {
  /** Independent products; A and C are [batch, M, ...] and B is shared unless bBatched. */
  batch: number;
  m: number;
  n: number;
  k: number;
  /** 'nk': B is [N, K] (PyTorch Linear weights, or K of attention); 'kn': B is [K, N]. */
  bLayout: 'nk' | 'kn';
  bBatched: boolean;
  bias: boolean;
  act: Activation;
  /** Scales A·B before the bias (1 for a linear layer, head_dim^-0.5 for attention scores). */
  alpha: number;
}

/** The tile shape of the tiled path (see the header). BM, BN multiples of TM, TN; TM, TN multiples of 4. */
export interface MatmulTiling {
  bm: number;
  bn: number;
  bk: number;
  tm: number;
  tn: number;
}

export const DEFAULT_TILING: MatmulTiling = { bm: 64, bn: 64, bk: 16, tm: 4, tn: 4 };

/** M at or below this takes the small-M path. */
export const SMALL_M = 8;

export function matmulFlops(p: MatmulProblem): number {
  return 2 * p.batch * p.m * p.n * p.k;
}

/** The kernel for one problem: the small-M path where it applies, else the tiled path. */
export function matmulKernel(p: MatmulProblem, caps: KernelCaps, tiling: MatmulTiling = DEFAULT_TILING): Kernel {
  if (p.m <= SMALL_M && p.bLayout === 'nk' && p.batch === 1) return smallMKernel(p, caps);
  return tiledKernel(p, tiling);
}

function problemKey(p: MatmulProblem): string {
  return `${p.batch}x${p.m}x${p.n}x${p.k}|${p.bLayout}${p.bBatched ? '+b' : ''}|${p.bias ? 'bias' : ''}|${p.act}|${p.alpha}`;
}

/** The epilogue's value for accumulator expression `v` (vec4 or scalar) and bias `b` (or null). */
function epilogue(p: MatmulProblem, v: string, b: string | null): string {
  let e = p.alpha === 1 ? v : `${f32(p.alpha)} * ${v}`;
  if (b) e = `${e} + ${b}`;
  return p.act === 'none' ? e : `${p.act}4(${e})`;
}

/** GELU/SiLU lifted to vec4 for the epilogue. */
const ACTIVATIONS4_WGSL = /* wgsl */ `${ACTIVATIONS_WGSL}
fn gelu4(v: vec4<f32>) -> vec4<f32> { return vec4<f32>(gelu(v.x), gelu(v.y), gelu(v.z), gelu(v.w)); }
fn silu4(v: vec4<f32>) -> vec4<f32> { return vec4<f32>(silu(v.x), silu(v.y), silu(v.z), silu(v.w)); }
fn gelu1(v: f32) -> f32 { return gelu(v); }
fn silu1(v: f32) -> f32 { return silu(v); }`;

function tiledKernel(p: MatmulProblem, t: MatmulTiling): Kernel {
  const { m: M, n: N, k: K } = p;
  const { bm: BM, bn: BN, bk: BK, tm: TM, tn: TN } = t;
  const TX = BN / TN, TY = BM / TM, THREADS = TX * TY;
  // vec4 access along K for A (and B as [N,K]); along N for B as [K,N] and for C.
  const aVec = K % 4 === 0 && BK % 4 === 0;
  const bVec = p.bLayout === 'nk' ? aVec : N % 4 === 0;
  const cVec = N % 4 === 0;
  const edgeM = M % BM !== 0, edgeN = N % BN !== 0, edgeK = K % BK !== 0;

  /**
   * WGSL that copies one operand's tile into workgroup memory, k-major. `rows` is the tile's extent
   * across K (BM for A, BN for B), `origin` the WGSL of its first row, `limit` the operand's extent.
   */
  const loadKMajor = (dst: string, src: string, base: string, rows: number, origin: string, limit: number, edgeRows: boolean, vec: boolean): string => {
    const per = vec ? BK / 4 : BK; // loads per row of the tile
    const count = rows * per;
    const check = [edgeRows ? `row < ${u32(limit)}` : '', edgeK ? `k < ${u32(K)}` : ''].filter(Boolean).join(' && ');
    const read = vec ? `${src}[(${base} + row * ${u32(K)} + k) / 4u]` : `${src}[${base} + row * ${u32(K)} + k]`;
    const zero = vec ? 'vec4<f32>()' : '0.0f';
    const store = vec
      ? [0, 1, 2, 3].map((j) => `${dst}[(kk + ${j}u) * ${u32(rows / 4)} + r / 4u][r % 4u] = v[${j}];`).join(' ')
      : `${dst}[kk * ${u32(rows / 4)} + r / 4u][r % 4u] = v;`;
    return `
    for (var e = tid; e < ${u32(count)}; e += ${u32(THREADS)}) {
      let r = e / ${u32(per)};
      let kk = (e % ${u32(per)})${vec ? ' * 4u' : ''};
      let row = ${origin} + r;
      let k = k0 + kk;
      let v = ${check ? `select(${zero}, ${read}, ${check})` : read};
      ${store}
    }`;
  };
  /** B as [K, N]: tile rows are already k, so vec4s along N go straight in. */
  const loadNMajor = (): string => {
    const per = bVec ? BN / 4 : BN;
    const check = [edgeN ? `col < ${u32(N)}` : '', edgeK ? `k < ${u32(K)}` : ''].filter(Boolean).join(' && ');
    const read = bVec ? `b[(bBase + k * ${u32(N)} + col) / 4u]` : `b[bBase + k * ${u32(N)} + col]`;
    const zero = bVec ? 'vec4<f32>()' : '0.0f';
    const store = bVec ? `Bs[kk * ${u32(BN / 4)} + c] = v;` : `Bs[kk * ${u32(BN / 4)} + c / 4u][c % 4u] = v;`;
    return `
    for (var e = tid; e < ${u32(BK * per)}; e += ${u32(THREADS)}) {
      let kk = e / ${u32(per)};
      let c = e % ${u32(per)};
      let col = col0 + c${bVec ? ' * 4u' : ''};
      let k = k0 + kk;
      let v = ${check ? `select(${zero}, ${read}, ${check})` : read};
      ${store}
    }`;
  };

  // The register block: acc_r_c holds C[row0 + ty*TM + r][col0 + tx*TN + 4c .. +3].
  const accs: string[] = [];
  for (let r = 0; r < TM; r++) for (let c = 0; c < TN / 4; c++) accs.push(`acc_${r}_${c}`);
  const inner: string[] = [];
  for (let i = 0; i < TM / 4; i++) inner.push(`let a${i} = As[kk * ${u32(BM / 4)} + ty * ${u32(TM / 4)} + ${i}u];`);
  for (let c = 0; c < TN / 4; c++) inner.push(`let b${c} = Bs[kk * ${u32(BN / 4)} + tx * ${u32(TN / 4)} + ${c}u];`);
  for (let r = 0; r < TM; r++) {
    for (let c = 0; c < TN / 4; c++) inner.push(`acc_${r}_${c} = fma(vec4<f32>(a${r >> 2}[${r & 3}]), b${c}, acc_${r}_${c});`);
  }

  const stores: string[] = [];
  for (let r = 0; r < TM; r++) {
    const rowCheck = edgeM ? `if (row0 + ${r}u < ${u32(M)}) ` : '';
    for (let c = 0; c < TN / 4; c++) {
      const col = `col0 + ${4 * c}u`;
      if (cVec) {
        const v = epilogue(p, `acc_${r}_${c}`, p.bias ? `bias[(${col}) / 4u]` : null);
        const check = [edgeM ? `row0 + ${r}u < ${u32(M)}` : '', edgeN ? `${col} < ${u32(N)}` : ''].filter(Boolean).join(' && ');
        stores.push(`${check ? `if (${check}) ` : ''}{ out[(cBase + (row0 + ${r}u) * ${u32(N)} + ${col}) / 4u] = ${v}; }`);
      } else {
        for (let j = 0; j < 4; j++) {
          const colj = `${col} + ${j}u`;
          const v = epilogue(p, `acc_${r}_${c}[${j}]`, p.bias ? `bias[${colj}]` : null).replace(/(gelu|silu)4\(/, '$11(');
          const check = edgeN ? `if (${colj} < ${u32(N)}) ` : '';
          stores.push(`${rowCheck}${check}{ out[cBase + (row0 + ${r}u) * ${u32(N)} + ${colj}] = ${v}; }`);
        }
      }
    }
  }

  return {
    key: `matmul.tiled|${problemKey(p)}|${BM}x${BN}x${BK}/${TM}x${TN}`,
    grid: [ceilDiv(N, BN), ceilDiv(M, BM), p.batch],
    wgsl: () => /* wgsl */ `
@group(0) @binding(0) var<storage, read> a: array<${aVec ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(1) var<storage, read> b: array<${bVec ? 'vec4<f32>' : 'f32'}>;
${p.bias ? `@group(0) @binding(2) var<storage, read> bias: array<${cVec ? 'vec4<f32>' : 'f32'}>;` : ''}
@group(0) @binding(${p.bias ? 3 : 2}) var<storage, read_write> out: array<${cVec ? 'vec4<f32>' : 'f32'}>;
${p.act === 'none' ? '' : ACTIVATIONS4_WGSL}

// Tiles of A and B for one step of K, k-major: As[k * BM/4 + m/4][m % 4] = A[row0 + m][k0 + k].
var<workgroup> As: array<vec4<f32>, ${(BK * BM) / 4}>;
var<workgroup> Bs: array<vec4<f32>, ${(BK * BN) / 4}>;

@compute @workgroup_size(${TX}, ${TY})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let tx = lid.x;
  let ty = lid.y;
  let tid = ty * ${u32(TX)} + tx;
  let tileRow = wid.y * ${u32(BM)};
  let tileCol = wid.x * ${u32(BN)};
  let aBase = wid.z * ${u32(M * K)};
  let bBase = ${p.bBatched ? `wid.z * ${u32(N * K)}` : '0u'};
  let cBase = wid.z * ${u32(M * N)};
  ${accs.map((a) => `var ${a} = vec4<f32>();`).join('\n  ')}

  for (var k0 = 0u; k0 < ${u32(K)}; k0 += ${u32(BK)}) {
    { let row0 = tileRow; let base = aBase;${loadKMajor('As', 'a', 'base', BM, 'row0', M, edgeM, aVec)}
    }
    { let col0 = tileCol;${p.bLayout === 'nk' ? `${loadKMajor('Bs', 'b', 'bBase', BN, 'col0', N, edgeN, bVec)}` : loadNMajor()}
    }
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

function smallMKernel(p: MatmulProblem, caps: KernelCaps): Kernel {
  const { m: M, n: N, k: K } = p;
  const W = 64, COLS = 4;
  const vec = K % 4 === 0;
  const K4 = vec ? K / 4 : K; // elements (vec4 or scalar) along K
  const type = vec ? 'vec4<f32>' : 'f32';
  const dot = vec ? 'dot' : '';
  const lines: string[] = [];
  for (let r = 0; r < M; r++) lines.push(`let x${r} = x[${u32(r * K4)} + e];`);
  for (let c = 0; c < COLS; c++) {
    // Columns past N (when N % 4 != 0) read row N-1 instead and are never stored.
    lines.push(`let w${c} = w[min(n0 + ${c}u, ${u32(N - 1)}) * ${u32(K4)} + e];`);
    for (let r = 0; r < M; r++) lines.push(`acc[${r * COLS + c}] += ${dot}(x${r}, w${c});`);
  }
  const outputs = M * COLS;
  const partialBytes = outputs * W * 4;
  if (partialBytes > caps.maxWorkgroupStorage) throw new Error(`small-M matmul needs ${partialBytes} bytes of workgroup memory`);
  const groups = ceilDiv(N, COLS);
  return {
    key: `matmul.smallM|${problemKey(p)}`,
    grid: groups <= caps.maxGridDim ? [groups, 1, 1] : [caps.maxGridDim, ceilDiv(groups, caps.maxGridDim), 1],
    wgsl: () => /* wgsl */ `
@group(0) @binding(0) var<storage, read> x: array<${type}>;
@group(0) @binding(1) var<storage, read> w: array<${type}>;
${p.bias ? '@group(0) @binding(2) var<storage, read> bias: array<f32>;' : ''}
@group(0) @binding(${p.bias ? 3 : 2}) var<storage, read_write> out: array<f32>;
${p.act === 'none' ? '' : ACTIVATIONS4_WGSL}

// partial[o * W + t]: invocation t's share of output o = row * COLS + column.
var<workgroup> partial: array<f32, ${outputs * W}>;

@compute @workgroup_size(${W})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let n0 = (wid.x + wid.y * ${u32(caps.maxGridDim)}) * ${u32(COLS)};
  var acc: array<f32, ${outputs}>;
  for (var e = t; e < ${u32(K4)}; e += ${u32(W)}) {
    ${lines.join('\n    ')}
  }
  for (var o = 0u; o < ${u32(outputs)}; o++) { partial[o * ${u32(W)} + t] = acc[o]; }
  workgroupBarrier();
  if (t < ${u32(outputs)}) {
    let n = n0 + t % ${u32(COLS)};
    let row = t / ${u32(COLS)};
    // Four running sums instead of one: shorter dependency chains, and less rounding error.
    var s = vec4<f32>();
    for (var j = 0u; j < ${u32(W)}; j += 4u) {
      s += vec4<f32>(partial[t * ${u32(W)} + j], partial[t * ${u32(W)} + j + 1u], partial[t * ${u32(W)} + j + 2u], partial[t * ${u32(W)} + j + 3u]);
    }
    if (n < ${u32(N)}) {
      out[row * ${u32(N)} + n] = ${epilogue(p, '(s.x + s.y + s.z + s.w)', p.bias ? 'bias[n]' : null).replace(/(gelu|silu)4\(/, '$11(')};
    }
  }
}`,
  };
}
