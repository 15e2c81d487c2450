// Fused ("flash") attention: o = softmax(q k^T * scale) v for q, k, v [BH, T, hd], no mask.
//
// Unfused, attention writes the T x T score matrix to memory, reads it back for the softmax, writes
// the probabilities, and reads them again for P·V: at T = 1024 that is 4 MiB per head, four times over.
// Here the scores never leave the workgroup.
//
// One workgroup handles one head and a block of BQ queries, one query per invocation. The invocation
// keeps its query row (pre-multiplied by scale * log2(e), so exp becomes exp2) and its output row in
// registers, hd/4 vec4s each. The keys and values are streamed through workgroup memory in tiles of BKV
// rows: the workgroup loads a K tile and a V tile together (each invocation a few vec4s), waits at a
// barrier, and then every invocation
//   1. computes its BKV scores s_j = q·k_j against the tile (all invocations read the same k_j, which
//      workgroup memory serves as a broadcast),
//   2. updates its running max m and rescales what it has so far: l *= 2^(m_old - m), o *= 2^(m_old - m),
//   3. adds p_j = 2^(s_j - m) to the running sum l and p_j * v_j to o,
// and waits again before the next tile overwrites K and V. After the last tile o / l is the exact
// softmax-weighted sum, the same as the unfused computation up to rounding: this is the "online
// softmax" (Milakov & Gimelshein 2018) that FlashAttention builds on.
// Edges: queries past T compute on a clamped row and skip the store; keys past T (the last tile when
// BKV does not divide T) are loaded clamped and given weight 0. A head_dim that is not a multiple of 4
// is padded with zeros to whole vec4s on load (zeros change no dot product) and trimmed on store.
// Sizes: BKV is the largest of 32, 16, 8, 4 whose K and V tiles fit the workgroup memory; BQ is 64,
// or the next power of two >= T (at least 8) for short sequences.

import { f32, u32, type Kernel, type KernelCaps } from './kernel.js';

export function attentionFlops(bh: number, t: number, hd: number): number {
  return 4 * bh * t * t * hd; // q k^T and p v, 2 FLOPs per multiply-add each
}

export function attentionKernel(bh: number, tokens: number, hd: number, scale: number, caps: KernelCaps): Kernel {
  const T = tokens;
  const HD4 = Math.ceil(hd / 4);
  const vec = hd % 4 === 0;
  const BQ = Math.min(64, Math.max(8, 2 ** Math.ceil(Math.log2(T))));
  let BKV = 32;
  while (BKV > 4 && 2 * BKV * HD4 * 16 > caps.maxWorkgroupStorage) BKV /= 2;
  if (2 * BKV * HD4 * 16 > caps.maxWorkgroupStorage) throw new Error(`attention: head_dim ${hd} does not fit in workgroup memory`);
  const edgeKV = T % BKV !== 0;
  const LOG2E = Math.LOG2E;

  // Reading a row's c-th vec4 (zero-padded past hd), and writing one back.
  const load = (buf: string) => vec
    ? `fn load_${buf}(row: u32, c: u32) -> vec4<f32> { return ${buf}[row * ${u32(HD4)} + c]; }`
    : `fn load_${buf}(row: u32, c: u32) -> vec4<f32> {
  var r = vec4<f32>();
  for (var j = 0u; j < 4u; j++) {
    let d = c * 4u + j;
    if (d < ${u32(hd)}) { r[j] = ${buf}[row * ${u32(hd)} + d]; }
  }
  return r;
}`;
  const store = vec
    ? `out[row * ${u32(HD4)} + c] = value;`
    : `for (var j = 0u; j < 4u; j++) { let d = c * 4u + j; if (d < ${u32(hd)}) { out[row * ${u32(hd)} + d] = value[j]; } }`;
  const type = vec ? 'vec4<f32>' : 'f32';

  return {
    key: `attention|${bh}x${T}x${hd}|${scale}|${BQ}/${BKV}`,
    grid: [Math.ceil(T / BQ), bh, 1],
    wgsl: () => /* wgsl */ `
@group(0) @binding(0) var<storage, read> q: array<${type}>;
@group(0) @binding(1) var<storage, read> k: array<${type}>;
@group(0) @binding(2) var<storage, read> v: array<${type}>;
@group(0) @binding(3) var<storage, read_write> out: array<${type}>;

const T = ${u32(T)};
const HD4 = ${u32(HD4)};
const BKV = ${u32(BKV)};
${load('q')}
${load('k')}
${load('v')}

// One tile of keys and values: kt[j * HD4 + c] is the c-th vec4 of key t0 + j.
var<workgroup> kt: array<vec4<f32>, ${BKV * HD4}>;
var<workgroup> vt: array<vec4<f32>, ${BKV * HD4}>;

@compute @workgroup_size(${BQ})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let base = wid.y * T;              // first row of this head
  let qi = wid.x * ${u32(BQ)} + lid;  // this invocation's query
  let qrow = base + min(qi, T - 1u);

  var qv: array<vec4<f32>, ${HD4}>;
  var o: array<vec4<f32>, ${HD4}>;
  for (var c = 0u; c < HD4; c++) {
    qv[c] = load_q(qrow, c) * ${f32(scale * LOG2E)};
    o[c] = vec4<f32>();
  }
  // Running max (log2 domain) and sum. -1e30 rather than -inf: the first rescale is 2^(-huge) = 0, not NaN.
  var m = -1.0e30f;
  var l = 0.0f;

  for (var t0 = 0u; t0 < T; t0 += BKV) {
    for (var e = lid; e < BKV * HD4; e += ${u32(BQ)}) {
      let key = base + min(t0 + e / HD4, T - 1u);
      kt[e] = load_k(key, e % HD4);
      vt[e] = load_v(key, e % HD4);
    }
    workgroupBarrier();

    var s: array<f32, ${BKV}>;
    var mNew = m;
    for (var j = 0u; j < BKV; j++) {
      var d = vec4<f32>();
      for (var c = 0u; c < HD4; c++) { d = fma(qv[c], kt[j * HD4 + c], d); }
      s[j] = d.x + d.y + d.z + d.w;
      ${edgeKV ? 'if (t0 + j < T) { mNew = max(mNew, s[j]); }' : 'mNew = max(mNew, s[j]);'}
    }
    let correction = exp2(m - mNew);
    l *= correction;
    for (var c = 0u; c < HD4; c++) { o[c] *= correction; }
    for (var j = 0u; j < BKV; j++) {
      let p = ${edgeKV ? 'select(0.0f, exp2(s[j] - mNew), t0 + j < T)' : 'exp2(s[j] - mNew)'};
      l += p;
      for (var c = 0u; c < HD4; c++) { o[c] = fma(vec4<f32>(p), vt[j * HD4 + c], o[c]); }
    }
    m = mNew;
    workgroupBarrier();
  }

  if (qi < T) {
    let row = base + qi;
    let inv = 1.0f / l;
    for (var c = 0u; c < HD4; c++) {
      let value = o[c] * inv;
      ${store}
    }
  }
}`,
  };
}
