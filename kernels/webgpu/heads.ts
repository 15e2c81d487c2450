// The inputs of (joint) attention, straight from the projections: one of q, k or v as [B*H, T, hd],
// gathered from one or more streams' projection outputs, each [B, L_s, W_s] with this tensor's H heads at
// features [offset_s, offset_s + H*hd), the streams' tokens laid one after another (T = sum of L_s:
// FLUX's and Qwen-Image's [text; image]). On the way, optionally
//   RMSNorm per head:  x / sqrt(mean(x^2) + eps) * norm_s[d]          (the q/k norms, one scale per stream)
//   RoPE per pair:     (x0, x1) -> (c x0 - s x1, s x0 + c x1), (c, s) = table[b or 0, t, pair]
// This replaces a permute (head split), slices, a concat per tensor, and the norm and rotation passes:
// one read and one write of each element instead of about six.
//
// With a norm or a rotation, one invocation makes one (image, head, token) row of hd values, 64 rows per
// workgroup. A head's row is short (hd <= 256) and needs a sum over itself for the norm, so an
// invocation walks it twice (the sum of squares, then normalise, rotate and store) instead of sharing it
// across a workgroup: no workgroup memory and no barriers, and on lavapipe, which runs the 8 invocations
// of a SIMD lane group in lockstep, the rows of neighbouring heads are read in parallel. The loops over
// the row are kept loops (`opaque` bounds) so that lavapipe does not unroll them into minutes of
// compilation. Without either (v) it is a pure gather, and one invocation moves one
// element: hd times the parallelism, which a GPU needs to hide memory latency.

import { ceilDiv, f32, flatGrid, opaque, u32, type Kernel, type KernelCaps } from './kernel.js';

/** One stream's part of the output: its tokens, projection row width, where the heads start, and whether it has a norm. */
export interface HeadStream {
  tokens: number;
  width: number;
  offset: number;
  norm: boolean;
}

const WORKGROUP = 64;

export function attentionHeadsKernel(
  batch: number, heads: number, headDim: number, streams: readonly HeadStream[], tableBatch: number | null, eps: number, caps: KernelCaps,
): Kernel {
  const T = streams.reduce((a, s) => a + s.tokens, 0), rows = batch * heads * T, pairs = headDim / 2;
  const gather = tableBatch === null && streams.every((s) => !s.norm);
  const units = gather ? rows * headDim : rows;
  const { grid, index } = flatGrid(ceilDiv(units, WORKGROUP), caps.maxGridDim);
  // Bindings in order: each stream's x, then each stream's norm (if any), the table (if any), the output.
  let binding = 0;
  const xs = streams.map(() => binding++);
  const norms = streams.map((s) => (s.norm ? binding++ : -1));
  const table = tableBatch === null ? -1 : binding++;
  const out = binding;
  const starts = streams.map((_, i) => streams.slice(0, i).reduce((a, s) => a + s.tokens, 0));
  // Per stream: the row's first element in x, and reads of x and of the norm at a row offset.
  const branch = (s: HeadStream, i: number, body: (load: (d: string) => string) => string) => {
    const load = (d: string) => `src${i}[base + ${d}]` + (s.norm ? ` * inv * norm${i}[${d}]` : '');
    return `{
    let base = (b * ${u32(s.tokens)} + t - ${u32(starts[i])}) * ${u32(s.width)} + ${u32(s.offset)} + h * ${u32(headDim)};
    var inv = 1.0f;
${s.norm ? `    var squares = 0.0f;
    for (var d = 0u; d < ${opaque(headDim)}; d++) { let v = src${i}[base + d]; squares += v * v; }
    inv = inverseSqrt(squares / ${f32(headDim)} + ${f32(eps)});` : ''}
${body(load)}
  }`;
  };
  const store = (load: (d: string) => string) => gather
    ? `    out[unit] = ${load('unit % ' + u32(headDim))};`
    : tableBatch === null
    ? `    for (var d = 0u; d < ${opaque(headDim)}; d++) { out[row * ${u32(headDim)} + d] = ${load('d')}; }`
    : `    for (var p = 0u; p < ${opaque(pairs)}; p++) {
      let x0 = ${load('2u * p')};
      let x1 = ${load('2u * p + 1u')};
      let cs = table[(${tableBatch === 1 ? '0u' : 'b'} * ${u32(T)} + t) * ${u32(pairs)} + p];
      out[row * ${u32(headDim)} + 2u * p] = cs.x * x0 - cs.y * x1;
      out[row * ${u32(headDim)} + 2u * p + 1u] = cs.y * x0 + cs.x * x1;
    }`;
  const bodies = streams.map((s, i) => branch(s, i, store));
  const dispatch = bodies.map((body, i) => (i === streams.length - 1 ? body : `if (t < ${u32(starts[i] + streams[i].tokens)}) ${body} else `)).join('');
  return {
    key: `attentionHeads|${gather ? 'gather' : 'rows'}|${batch}x${heads}x${headDim}|${streams.map((s) => `${s.tokens}:${s.width}:${s.offset}:${s.norm ? 'n' : '-'}`).join(',')}|${tableBatch}|${eps}`,
    grid,
    wgsl: () => /* wgsl */ `
${streams.map((_, i) => `@group(0) @binding(${xs[i]}) var<storage, read> src${i}: array<f32>;`).join('\n')}
${streams.map((s, i) => (s.norm ? `@group(0) @binding(${norms[i]}) var<storage, read> norm${i}: array<f32>;` : '')).join('\n')}
${tableBatch === null ? '' : `@group(0) @binding(${table}) var<storage, read> table: array<vec2<f32>>;`}
@group(0) @binding(${out}) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let unit = ${index} * ${u32(WORKGROUP)} + lid;
  if (unit >= ${u32(units)}) { return; }
  let row = ${gather ? `unit / ${u32(headDim)}` : 'unit'};
  let t = row % ${u32(T)};
  let h = (row / ${u32(T)}) % ${u32(heads)};
  let b = row / ${u32(T * heads)};
  ${dispatch}
}`,
  };
}
