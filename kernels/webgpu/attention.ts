// Fused ("flash") attention: o = softmax(q k^T * scale) v per head, no mask. q, k, v and o are read and
// written where kernels/attention-layout.ts says: [BH, T, hd], or heads in place in a projection's output
// (DiT's qkv), or merged [B, T, H*hd] for the output; the address of a row is baked-in arithmetic, so
// the layouts cost nothing over [BH, T, hd] and save the passes that would copy into and out of it.
//
// Unfused, attention writes the T x T score matrix to memory, reads it back for the softmax, writes
// the probabilities and reads them again for P·V: at T = 1024 that is 4 MiB per head, four times over.
// Here the scores never leave registers. Each invocation owns one query: its row q (pre-multiplied by
// scale * log2(e), so that exp becomes exp2) and its output row o stay in registers as hd/4 vec4s, and
// the keys and values stream past in tiles. For each tile the invocation
//   1. computes the scores s_j = q·k_j of the tile's keys,
//   2. raises its running max m to the tile's max and rescales what it has so far:
//      l *= 2^(m_old - m), o *= 2^(m_old - m),
//   3. adds p_j = 2^(s_j - m) to the running sum l and p_j * v_j to o.
// After the last tile o / l is the exact softmax-weighted sum, equal to the unfused result up to
// rounding: the "online softmax" (Milakov & Gimelshein 2018) that FlashAttention builds on.
// Edges: queries past T compute on a clamped row and skip the store; keys past T (the last tile when
// the tile size does not divide T) are loaded clamped and get weight 0. A head_dim that is not a
// multiple of 4 is padded with zeros to whole vec4s on load (zeros change no dot product) and trimmed
// on store.
//
// Two kernels, as for matmul (kernels/webgpu/matmul.ts has the reasoning):
// 'tiled' (GPUs): one workgroup of BQ invocations (64, fewer for short sequences) handles BQ queries of
// one head. K and V tiles of BKV keys are loaded cooperatively into workgroup memory (a barrier before
// and after use), and every invocation reads the same k_j at the same time, which workgroup memory
// serves as a broadcast. BKV is the largest of 32, 16, 8, 4 whose two tiles fit the workgroup memory.
// Within a tile the keys are taken one at a time (steps 1-3 per key): the max only moves, and o is
// only rescaled, when a key scores above every earlier one, which soon becomes rare.
// 'subgroup' (lavapipe): one workgroup is one subgroup of S = 8 lanes, each lane taking Q queries. A
// tile is S keys, and lane j loads key j's k and v rows into its registers; every lane then gets each
// key's rows by subgroupBroadcast, a register shuffle on a CPU. So each lane loads 2 rows per 8 keys
// instead of 16 (reads from workgroup memory are per-lane loads there too), and each row it loads or
// receives feeds Q queries. lavapipe compiles the fully unrolled tile with LLVM into 8-wide AVX code,
// where every WGSL vec4 is four registers and the x86 register file holds 32: the order of the
// arithmetic decides what spills. So the scores are blocked by keys (each q vec4, read from memory once,
// feeds the dot products with 8 broadcast keys, whose 8 running sums stay in registers) and the P·V
// update by queries (4 output vec4s accumulate over all S keys in registers, each broadcast v vec4
// serving the 4). At (32, 1024, 72) with Q = 16 the kernel ran 187 ms unblocked and 147 ms blocked.

import { attentionOutput, layoutKey, type AttentionLayout, type HeadStrides } from '../attention-layout.js';
import { f32, opaque, u32, type Kernel, type KernelCaps } from './kernel.js';

export type AttentionPath = 'tiled' | 'subgroup';

export function attentionFlops(bh: number, t: number, hd: number): number {
  return 4 * bh * t * t * hd; // q·k^T and p·v: 2 FLOPs per multiply-add each
}

function chooseAttentionPath(caps: KernelCaps): AttentionPath {
  return caps.emulated && caps.subgroupSize ? 'subgroup' : 'tiled';
}

export function attentionKernel(
  layout: AttentionLayout, scale: number, caps: KernelCaps, path = chooseAttentionPath(caps), queriesPerLane?: number,
): Kernel {
  const bh = layout.batch * layout.heads;
  if (bh > caps.maxGridDim) throw new Error(`attention: ${bh} heads exceed the grid limit ${caps.maxGridDim}`);
  return path === 'subgroup' ? subgroupKernel(layout, scale, caps, queriesPerLane) : tiledKernel(layout, scale, caps);
}

/**
 * Bindings, the row loaders (zero-padded vec4s) and the row store shared by both kernels. A row is
 * (bh, t): head bh % H of batch entry bh / H, token t; its first value sits at the operand's
 * offset + (bh / H) * batch + (bh % H) * head + t * token, in vec4s where every stride allows.
 */
function common(layout: AttentionLayout): { HD4: number; bindings: string; store: (c: string, value: string) => string } {
  const { heads: H, headDim: hd } = layout;
  const out = attentionOutput(layout).strides;
  const HD4 = Math.ceil(hd / 4);
  const all = [layout.q, layout.k, layout.v, out];
  const vec = hd % 4 === 0 && all.every((s) => [s.offset, s.batch, s.head, s.token].every((x) => x % 4 === 0));
  const unit = vec ? 4 : 1;
  const type = vec ? 'vec4<f32>' : 'f32';
  const start = (s: HeadStrides) => {
    const n = (x: number) => u32(x / unit);
    const head = H === 1 ? `bh * ${n(s.batch)}` : `(bh / ${u32(H)}) * ${n(s.batch)} + (bh % ${u32(H)}) * ${n(s.head)}`;
    return `${n(s.offset)} + ${head} + t * ${n(s.token)}`;
  };
  const load = (buf: string, s: HeadStrides) => vec
    ? `fn load_${buf}(bh: u32, t: u32, c: u32) -> vec4<f32> { return ${buf}[${start(s)} + c]; }`
    : `fn load_${buf}(bh: u32, t: u32, c: u32) -> vec4<f32> {
  var r = vec4<f32>();
  for (var j = 0u; j < 4u; j++) {
    let d = min(c * 4u + j, ${u32(hd - 1)});
    r[j] = select(0.0f, ${buf}[${start(s)} + d], c * 4u + j < ${u32(hd)});
  }
  return r;
}`;
  const bindings = `
@group(0) @binding(0) var<storage, read> q: array<${type}>;
@group(0) @binding(1) var<storage, read> k: array<${type}>;
@group(0) @binding(2) var<storage, read> v: array<${type}>;
@group(0) @binding(3) var<storage, read_write> out: array<${type}>;
${load('q', layout.q)}
${load('k', layout.k)}
${load('v', layout.v)}
fn out_start(bh: u32, t: u32) -> u32 { return ${start(out)}; }`;
  // Stores the vec4 `value` as vec4 `c` of row (bh, t) (WGSL expressions), trimmed to hd.
  const store = (c: string, value: string) => vec
    ? `out[out_start(bh, t) + ${c}] = ${value};`
    : `for (var j = 0u; j < 4u; j++) { if (${c} * 4u + j < ${u32(hd)}) { out[out_start(bh, t) + ${c} * 4u + j] = ${value}[j]; } }`;
  return { HD4, bindings, store };
}

/** `f(c)` for every vec4 c of a head row, one statement per line. */
const each = (HD4: number, f: (c: number) => string, sep = '\n    '): string => Array.from({ length: HD4 }, (_, c) => f(c)).join(sep);

function tiledKernel(layout: AttentionLayout, scale: number, caps: KernelCaps): Kernel {
  const { tokens: T, headDim: hd } = layout;
  const { HD4, bindings, store } = common(layout);
  const BQ = Math.min(64, Math.max(8, 2 ** Math.ceil(Math.log2(T))));
  let BKV = 32;
  while (BKV > 4 && 2 * BKV * HD4 * 16 > caps.maxWorkgroupStorage) BKV /= 2;
  if (2 * BKV * HD4 * 16 > caps.maxWorkgroupStorage) throw new Error(`attention: head_dim ${hd} does not fit in workgroup memory`);
  return {
    key: `attention.tiled|${T}x${hd}|${scale}|${layoutKey(layout)}|${BQ}/${BKV}`,
    grid: [Math.ceil(T / BQ), layout.batch * layout.heads, 1],
    wgsl: () => /* wgsl */ `${bindings}

const T = ${u32(T)};
const HD4 = ${u32(HD4)};
const BKV = ${u32(BKV)};
// One tile of keys and values: kt[j * HD4 + c] is the c-th vec4 of key t0 + j.
var<workgroup> kt: array<vec4<f32>, ${BKV * HD4}>;
var<workgroup> vt: array<vec4<f32>, ${BKV * HD4}>;

@compute @workgroup_size(${BQ})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let bh = wid.y;                     // this head
  let qi = wid.x * ${u32(BQ)} + lid;  // this invocation's query
  let qrow = min(qi, T - 1u);
  var qv: array<vec4<f32>, ${HD4}>;
  var o: array<vec4<f32>, ${HD4}>;
  for (var c = 0u; c < HD4; c++) { qv[c] = load_q(bh, qrow, c) * ${f32(scale * Math.LOG2E)}; }
  // Running max (log2 domain) and sum. -1e30 rather than -inf: the first rescale is 2^(-huge) = 0, not NaN.
  var m = -1.0e30f;
  var l = 0.0f;

  for (var tile = 0u; tile < ${opaque(Math.ceil(T / BKV))}; tile++) {
    let t0 = tile * BKV;
    for (var e = lid; e < BKV * HD4; e += ${u32(BQ)}) {
      let key = min(t0 + e / HD4, T - 1u);
      kt[e] = load_k(bh, key, e % HD4);
      vt[e] = load_v(bh, key, e % HD4);
    }
    workgroupBarrier();
    // One key at a time: the max moves rarely once a few keys are in, so the rescale is mostly skipped.
    for (var j = 0u; j < min(BKV, T - t0); j++) {
      var d = vec4<f32>();
      for (var c = 0u; c < HD4; c++) { d = fma(qv[c], kt[j * HD4 + c], d); }
      let s = d.x + d.y + d.z + d.w;
      if (s > m) {
        let correction = exp2(m - s);
        l *= correction;
        for (var c = 0u; c < HD4; c++) { o[c] *= correction; }
        m = s;
      }
      let p = exp2(s - m);
      l += p;
      for (var c = 0u; c < HD4; c++) { o[c] = fma(vec4<f32>(p), vt[j * HD4 + c], o[c]); }
    }
    workgroupBarrier();
  }

  if (qi < T) {
    let t = qi;
    let inv = 1.0f / l;
    for (var c = 0u; c < HD4; c++) {
      let value = o[c] * inv;
      ${store('c', 'value')}
    }
  }
}`,
  };
}

/** Keys whose scores one q vec4 feeds at a time, and queries whose outputs one v vec4 feeds (see the header). */
const KEY_BLOCK = 8;
const QUERY_BLOCK = 4;

function subgroupKernel(layout: AttentionLayout, scale: number, caps: KernelCaps, queriesPerLane?: number): Kernel {
  const S = caps.subgroupSize;
  if (!S) throw new Error('the subgroup attention needs a device with a fixed subgroup size');
  const { tokens: T, headDim: hd } = layout;
  const { HD4, bindings, store } = common(layout);
  // Each lane takes Q queries, so every key row loaded and broadcast serves Q times as many FLOPs. On
  // lavapipe at (32, 1024, 72), Q = 4, 8, 16 ran 46, 56, 66 GFLOP/s. More queries mean more code to
  // compile (from cold, about 2 s for Q = 2 and 7 s for Q = 16 at head_dim 72), so the short
  // sequences of tests and small models get Q = 2.
  const Q = queriesPerLane ?? (T <= S ? 1 : T < 256 ? 2 : 16);
  const edge = T % S !== 0;
  const keys = Array.from({ length: S }, (_, j) => j);
  const qs = Array.from({ length: Q }, (_, r) => r);
  const blocks = <X>(xs: X[], size: number): X[][] => Array.from({ length: Math.ceil(xs.length / size) }, (_, b) => xs.slice(b * size, (b + 1) * size));
  const lines: string[] = [];
  // Scores s{r}_{j} = q_r · k_j, a block of keys at a time.
  for (const kb of blocks(keys, KEY_BLOCK)) {
    lines.push(qs.map((r) => kb.map((j) => `var s${r}_${j} = 0.0f;`).join(' ')).join(' '));
    for (let c = 0; c < HD4; c++) {
      lines.push(`{ ${kb.map((j) => `let k${j} = subgroupBroadcast(ka[${c}], ${j}u);`).join(' ')}`);
      for (const r of qs) lines.push(`  { let q = qa${r}[${c}]; ${kb.map((j) => `s${r}_${j} += dot(q, k${j});`).join(' ')} }`);
      lines.push('}');
    }
  }
  // The online softmax: the new running max, the rescale of what came before, the weights p.
  if (edge) lines.push('let n = T - t0; // keys in this tile; past them the weight is 0');
  const live = (j: number, v: string, dead: string) => (edge && j > 0 ? `select(${dead}, ${v}, ${j}u < n)` : v);
  for (const r of qs) {
    lines.push(`let mNew${r} = max(m${r}, ${keys.map((j) => live(j, `s${r}_${j}`, '-1.0e30f')).reduce((a, b) => `max(${a}, ${b})`)});`);
    lines.push(`let correction${r} = exp2(m${r} - mNew${r});`);
    lines.push(keys.map((j) => `let p${r}_${j} = ${live(j, `exp2(s${r}_${j} - mNew${r})`, '0.0f')};`).join(' '));
    lines.push(`l${r} = l${r} * correction${r} + ${keys.map((j) => `p${r}_${j}`).join(' + ')};`);
    lines.push(`m${r} = mNew${r};`);
  }
  // Values: o_r = o_r * correction_r + sum_j p_r_j v_j, a vec4 of a block of queries at a time.
  for (let c = 0; c < HD4; c++) {
    for (const rb of blocks(qs, QUERY_BLOCK)) {
      lines.push(`{ ${rb.map((r) => `var acc${r} = o${r}[${c}] * correction${r};`).join(' ')}`);
      for (const j of keys) lines.push(`  { let v = subgroupBroadcast(va[${c}], ${j}u); ${rb.map((r) => `acc${r} = fma(vec4<f32>(p${r}_${j}), v, acc${r});`).join(' ')} }`);
      lines.push(`  ${rb.map((r) => `o${r}[${c}] = acc${r};`).join(' ')}\n}`);
    }
  }
  return {
    key: `attention.subgroup|${T}x${hd}|${scale}|${layoutKey(layout)}|${S}x${Q}`,
    grid: [Math.ceil(T / (S * Q)), layout.batch * layout.heads, 1],
    wgsl: () => /* wgsl */ `enable subgroups;
${bindings}

const T = ${u32(T)};

// One workgroup = one subgroup of ${S} lanes; lane l takes queries q0 + ${S}r + l (r < ${Q}) and loads key
// t0 + l of each tile. The arrays qa, o, ka, va are filled or read by loops with an opaque bound (see
// opaque() in kernels/webgpu/kernel.ts), which also keeps LLVM from turning them into registers it would
// only spill; the arithmetic in between is unrolled.
@compute @workgroup_size(${S})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let bh = wid.y;
  let q0 = wid.x * ${u32(S * Q)} + lane;
  let hd4 = ${opaque(HD4)};
  ${qs.map((r) => `var qa${r}: array<vec4<f32>, ${HD4}>;
  for (var c = 0u; c < hd4; c++) { qa${r}[c] = load_q(bh, min(q0 + ${r * S}u, T - 1u), c) * ${f32(scale * Math.LOG2E)}; }
  var o${r}: array<vec4<f32>, ${HD4}>;
  var m${r} = -1.0e30f;
  var l${r} = 0.0f;`).join('\n  ')}

  for (var tile = 0u; tile < ${opaque(Math.ceil(T / S))}; tile++) {
    let t0 = tile * ${u32(S)};
    let key = min(t0 + lane, T - 1u);
    var ka: array<vec4<f32>, ${HD4}>;
    var va: array<vec4<f32>, ${HD4}>;
    for (var c = 0u; c < hd4; c++) { ka[c] = load_k(bh, key, c); va[c] = load_v(bh, key, c); }
    ${lines.join('\n    ')}
  }

  ${qs.map((r) => `if (q0 + ${r * S}u < T) {
    let t = q0 + ${r * S}u;
    let inv = 1.0f / l${r};
    for (var c = 0u; c < hd4; c++) {
      let value = o${r}[c] * inv;
      ${store('c', 'value')}
    }
  }`).join('\n  ')}
}`,
  };
}
