// The tensor operations models are written in. Each checks its operands' shapes and dtypes, then
// calls the backend the tensors live on; so a model written against these functions runs unchanged on
// every backend, and a backend can assume it is given valid, contiguous input.

import { packedHeads, splitHeads, type AttentionLayout } from '../kernels/attention-layout.js';
import type { Activation } from './backend.js';
import { broadcastShapes, sameShape, shapeString } from './shape.js';
import type { Tensor } from './tensor.js';

function fail(op: string, message: string): never {
  throw new Error(`${op}: ${message}`);
}

function requireF32(op: string, ...ts: Tensor[]): void {
  for (const t of ts) if (t.dtype !== 'f32') fail(op, `expected an f32 tensor, got ${t}`);
}

function requireSameBackend(op: string, ts: readonly Tensor[]): void {
  for (const t of ts) if (t.backend !== ts[0].backend) fail(op, `tensors live on different backends (${ts[0].backend.name}, ${t.backend.name})`);
}

function normAxis(op: string, t: Tensor, axis: number): number {
  const a = axis < 0 ? axis + t.rank : axis;
  if (a < 0 || a >= t.rank) fail(op, `axis ${axis} is out of range for ${shapeString(t.shape)}`);
  return a;
}

/**
 * y = act(x · w^T + bias) over the last dim of x, PyTorch's Linear: w is [out, in]. Leading dims of
 * x are flattened into rows and restored on the output.
 */
export function linear(x: Tensor, w: Tensor, bias: Tensor | null = null, act: Activation = 'none'): Tensor {
  requireF32('linear', x, w, ...(bias ? [bias] : []));
  requireSameBackend('linear', bias ? [x, w, bias] : [x, w]);
  const k = x.shape[x.rank - 1];
  if (w.rank !== 2 || w.shape[1] !== k) fail('linear', `weight ${shapeString(w.shape)} does not take inputs ${shapeString(x.shape)}`);
  const n = w.shape[0];
  if (bias && (bias.rank !== 1 || bias.shape[0] !== n)) fail('linear', `bias ${shapeString(bias.shape)} does not fit weight ${shapeString(w.shape)}`);
  const rows = x.reshape([-1, k]);
  const flat = x.backend.linear(rows, w, bias, act);
  rows.dispose();
  const y = flat.reshape([...x.shape.slice(0, -1), n]);
  flat.dispose();
  return y;
}

function binary(op: 'add' | 'sub' | 'mul', a: Tensor, b: Tensor): Tensor {
  requireF32(op, a, b);
  requireSameBackend(op, [a, b]);
  broadcastShapes(a.shape, b.shape);
  return a.backend.binary(op, a, b);
}

/** a + b with NumPy broadcasting. */
export const add = (a: Tensor, b: Tensor): Tensor => binary('add', a, b);
/** a - b with NumPy broadcasting. */
export const sub = (a: Tensor, b: Tensor): Tensor => binary('sub', a, b);
/** a * b with NumPy broadcasting. */
export const mul = (a: Tensor, b: Tensor): Tensor => binary('mul', a, b);

/** sum_i weights[i] * xs[i] over f32 tensors of one shape (see Backend.linearCombination). */
export function linearCombination(xs: readonly Tensor[], weights: readonly number[]): Tensor {
  if (xs.length === 0) fail('linearCombination', 'no terms');
  if (weights.length !== xs.length) fail('linearCombination', `${xs.length} tensors but ${weights.length} weights`);
  requireF32('linearCombination', ...xs);
  requireSameBackend('linearCombination', xs);
  for (const t of xs) if (!sameShape(t.shape, xs[0].shape)) fail('linearCombination', `${shapeString(t.shape)} does not match ${shapeString(xs[0].shape)}`);
  for (const w of weights) if (!Number.isFinite(w)) fail('linearCombination', `weight ${w} is not finite`);
  return xs[0].backend.linearCombination(xs, weights);
}

/** A scalar (shape [1]) on the same backend as `like`, for broadcasting. */
export function scalar(like: Tensor, value: number): Tensor {
  return like.backend.upload(new Float32Array([value]), [1], 'f32');
}

export function gelu(x: Tensor): Tensor {
  requireF32('gelu', x);
  return x.backend.unary('gelu', x);
}

export function silu(x: Tensor): Tensor {
  requireF32('silu', x);
  return x.backend.unary('silu', x);
}

/** The most tensors one flagNonFinite checks: with flags and its parameters, 6 of WebGPU's 8 bindings. */
export const FLAG_TENSORS = 4;

/**
 * Sets bit j of flags[index] for each xs[j] holding a NaN or an infinity, on the device: flags is an
 * i32 vector the caller reads back when it likes (see Backend.flagNonFinite).
 */
export function flagNonFinite(xs: readonly Tensor[], flags: Tensor, index: number): void {
  if (xs.length === 0 || xs.length > FLAG_TENSORS) fail('flagNonFinite', `takes 1 to ${FLAG_TENSORS} tensors, got ${xs.length}`);
  requireF32('flagNonFinite', ...xs);
  requireSameBackend('flagNonFinite', [...xs, flags]);
  if (flags.dtype !== 'i32' || flags.rank !== 1) fail('flagNonFinite', `flags must be an i32 vector, got ${flags}`);
  if (!Number.isInteger(index) || index < 0 || index >= flags.size) fail('flagNonFinite', `index ${index} is out of range for ${flags.size} flags`);
  flags.backend.flagNonFinite(xs, flags, index);
}

/** LayerNorm over the last dim, no affine parameters. */
export function layerNorm(x: Tensor, eps: number): Tensor {
  requireF32('layerNorm', x);
  return x.backend.layerNorm(x, eps, null);
}

/**
 * Checks that `mod` is [B, k*D] for x [B, T, D] and that each chunk index is below k; returns the
 * chunks' first columns. An adaLN projection's output holds k modulation vectors side by side (DiT:
 * shift, scale, gate of attention and MLP), and the ops below read a chunk in place: a view, not a copy.
 */
function chunkColumns(op: string, x: Tensor, mod: Tensor, chunks: number[]): number[] {
  if (x.rank !== 3) fail(op, `expected x [B, T, D], got ${shapeString(x.shape)}`);
  const [B, , D] = x.shape;
  if (mod.rank !== 2 || mod.shape[0] !== B || D === 0 || mod.shape[1] % D !== 0) {
    fail(op, `modulation ${shapeString(mod.shape)} does not fit x ${shapeString(x.shape)}: expected [${B}, k * ${D}]`);
  }
  for (const c of chunks) {
    if (!Number.isInteger(c) || c < 0 || c >= mod.shape[1] / D) fail(op, `chunk ${c} is out of range for ${mod.shape[1] / D} chunks of ${D}`);
  }
  return chunks.map((c) => c * D);
}

/**
 * DiT's modulate(norm(x), shift, scale) = norm(x) * (1 + scale) + shift, in one pass, with shift and
 * scale chunks `shift` and `scale` of mod [B, k*D] (torch.chunk(mod, k, 1)[i]) for x [B, T, D].
 */
export function layerNormModulate(x: Tensor, mod: Tensor, shift: number, scale: number, eps: number): Tensor {
  requireF32('layerNormModulate', x, mod);
  requireSameBackend('layerNormModulate', [x, mod]);
  const [shiftAt, scaleAt] = chunkColumns('layerNormModulate', x, mod, [shift, scale]);
  return x.backend.layerNorm(x, eps, { table: mod, shift: shiftAt, scale: scaleAt });
}

/**
 * RMSNorm over the last dim with a learned scale (FLUX's QKNorm, Qwen-Image's norms):
 * x / sqrt(mean(x^2) + eps) * weight, weight [D].
 */
export function rmsNorm(x: Tensor, weight: Tensor, eps: number): Tensor {
  requireF32('rmsNorm', x, weight);
  requireSameBackend('rmsNorm', [x, weight]);
  const dim = x.shape[x.rank - 1];
  if (x.rank < 1 || dim === 0) fail('rmsNorm', `expected x [..., D] with D > 0, got ${shapeString(x.shape)}`);
  if (weight.rank !== 1 || weight.shape[0] !== dim) fail('rmsNorm', `weight ${shapeString(weight.shape)} does not fit x ${shapeString(x.shape)}: expected [${dim}]`);
  if (!(eps >= 0) || !Number.isFinite(eps)) fail('rmsNorm', `eps must be a finite non-negative number, got ${eps}`);
  return x.backend.rmsNorm(x, weight, eps);
}

/** One stream's projection output feeding attentionHeads: x [B, L, W] with the heads at features [offset, offset + H*hd). */
export interface HeadSource {
  x: Tensor;
  offset: number;
  /** The RMSNorm scale [hd] applied per head (FLUX's and Qwen-Image's q/k norms), or none. */
  norm: Tensor | null;
}

/**
 * One of q, k, v for (joint) attention, [B*H, T, hd]: each source's heads split out of its projection,
 * RMS-normalised (eps) where it has a norm, rotated by the RoPE table [B or 1, T, hd/2, 2] of (cos, sin)
 * per adjacent pair if one is given, and the sources' tokens laid one after another (T = sum of L).
 * What a head split, a concat of streams, the q/k norm and the rotation do, in one pass.
 */
export function attentionHeads(sources: readonly HeadSource[], heads: number, headDim: number, table: Tensor | null, eps: number): Tensor {
  if (sources.length === 0) fail('attentionHeads', 'no sources');
  const all = [...sources.flatMap((s) => (s.norm ? [s.x, s.norm] : [s.x])), ...(table ? [table] : [])];
  requireF32('attentionHeads', ...all);
  requireSameBackend('attentionHeads', all);
  if (!Number.isInteger(heads) || heads < 1 || !Number.isInteger(headDim) || headDim < 1) fail('attentionHeads', `${heads} heads of ${headDim}: both must be positive integers`);
  const B = sources[0].x.shape[0];
  for (const s of sources) {
    if (s.x.rank !== 3 || s.x.shape[0] !== B) fail('attentionHeads', `every source must be [${B}, L, W], got ${shapeString(s.x.shape)}`);
    if (!Number.isInteger(s.offset) || s.offset < 0 || s.offset + heads * headDim > s.x.shape[2]) {
      fail('attentionHeads', `${heads} heads of ${headDim} from feature ${s.offset} do not fit ${shapeString(s.x.shape)}`);
    }
    if (s.norm && (s.norm.rank !== 1 || s.norm.shape[0] !== headDim)) fail('attentionHeads', `norm ${shapeString(s.norm.shape)} does not match the head dim ${headDim}`);
  }
  const T = sources.reduce((a, s) => a + s.x.shape[1], 0);
  if (table && (headDim % 2 !== 0 || table.rank !== 4 || (table.shape[0] !== B && table.shape[0] !== 1) || table.shape[1] !== T || table.shape[2] !== headDim / 2 || table.shape[3] !== 2)) {
    fail('attentionHeads', `table ${shapeString(table.shape)} does not fit ${T} tokens of head dim ${headDim}: expected [${B} or 1, ${T}, ${headDim / 2}, 2]`);
  }
  if (!(eps >= 0) || !Number.isFinite(eps)) fail('attentionHeads', `eps must be a finite non-negative number, got ${eps}`);
  return sources[0].x.backend.attentionHeads(sources, heads, headDim, table, eps);
}

/**
 * x + gate * linear(h, w, bias), the gate chunk `gate` of mod [B, k*D] broadcast over tokens: DiT's
 * adaLN-Zero residual around its attention projection and its MLP's second layer. One pass where the
 * backend fuses it (WebGPU: the matmul's epilogue), so the linear's output is never read back.
 */
export function linearGatedResidual(x: Tensor, mod: Tensor, gate: number, h: Tensor, w: Tensor, bias: Tensor | null = null): Tensor {
  const all = [x, mod, h, w, ...(bias ? [bias] : [])];
  requireF32('linearGatedResidual', ...all);
  requireSameBackend('linearGatedResidual', all);
  const [gateAt] = chunkColumns('linearGatedResidual', x, mod, [gate]);
  const [B, T, D] = x.shape;
  if (h.rank !== 3 || h.shape[0] !== B || h.shape[1] !== T) fail('linearGatedResidual', `h ${shapeString(h.shape)} does not match x ${shapeString(x.shape)}: expected [${B}, ${T}, K]`);
  if (w.rank !== 2 || w.shape[0] !== D || w.shape[1] !== h.shape[2]) fail('linearGatedResidual', `weight ${shapeString(w.shape)} does not map h ${shapeString(h.shape)} to x ${shapeString(x.shape)}: expected [${D}, ${h.shape[2]}]`);
  if (bias && (bias.rank !== 1 || bias.shape[0] !== D)) fail('linearGatedResidual', `bias ${shapeString(bias.shape)} does not fit weight ${shapeString(w.shape)}`);
  return x.backend.linearGatedResidual(x, mod, gateAt, h, w, bias);
}

export function softmax(x: Tensor): Tensor {
  requireF32('softmax', x);
  return x.backend.softmax(x);
}

/**
 * softmax(q k^T * scale) v over [BH, T, hd]. With `mergeHeads` H, the output is [BH/H, T, H*hd], head h
 * at features h*hd: the heads merged as the output projection takes them, without a permute.
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, scale: number, mergeHeads?: number): Tensor {
  requireF32('attention', q, k, v);
  requireSameBackend('attention', [q, k, v]);
  if (q.rank !== 3 || !sameShape(q.shape, k.shape) || !sameShape(q.shape, v.shape)) {
    fail('attention', `expected q, k, v of one shape [BH, T, hd], got ${shapeString(q.shape)}, ${shapeString(k.shape)}, ${shapeString(v.shape)}`);
  }
  const [bh, T, hd] = q.shape;
  const H = mergeHeads ?? 1;
  if (!Number.isInteger(H) || H < 1 || bh % H !== 0) fail('attention', `${bh} heads do not merge in groups of ${mergeHeads}`);
  const heads = splitHeads(H, T, hd);
  const layout: AttentionLayout = { batch: bh / H, heads: H, tokens: T, headDim: hd, q: heads, k: heads, v: heads, merged: mergeHeads !== undefined };
  return q.backend.attention(q, k, v, scale, layout);
}

/**
 * Self-attention straight from a packed projection qkv [B, T, 3*H*hd] (features [all q; all k; all v],
 * each head contiguous: DiT's qkv Linear), its heads read in place, the output [B, T, H*hd] with heads
 * merged: what a head split, attention and a head merge do, in one pass.
 */
export function attentionPacked(qkv: Tensor, heads: number, scale: number): Tensor {
  requireF32('attentionPacked', qkv);
  const [B, T, W] = qkv.shape;
  if (qkv.rank !== 3 || !Number.isInteger(heads) || heads < 1 || W % (3 * heads) !== 0) {
    fail('attentionPacked', `expected qkv [B, T, 3 * ${heads} * hd], got ${shapeString(qkv.shape)}`);
  }
  const D = W / 3, hd = D / heads;
  const at = (offset: number) => packedHeads(T, W, hd, offset);
  return qkv.backend.attention(qkv, qkv, qkv, scale, { batch: B, heads, tokens: T, headDim: hd, q: at(0), k: at(D), v: at(2 * D), merged: true });
}

/** Rows of table [V, D] picked by integer ids. */
export function embedding(table: Tensor, ids: Tensor): Tensor {
  requireF32('embedding', table);
  if (ids.dtype !== 'i32') fail('embedding', `ids must be i32, got ${ids}`);
  if (table.rank !== 2) fail('embedding', `table must be [V, D], got ${shapeString(table.shape)}`);
  return table.backend.embedding(table, ids);
}

export function permute(x: Tensor, perm: readonly number[]): Tensor {
  const sorted = [...perm].sort((a, b) => a - b);
  if (perm.length !== x.rank || sorted.some((p, i) => p !== i)) fail('permute', `[${perm}] is not a permutation of ${x.rank} dims`);
  return x.backend.permute(x, perm);
}

export function slice(x: Tensor, axis: number, start: number, end: number): Tensor {
  const a = normAxis('slice', x, axis);
  if (!(0 <= start && start <= end && end <= x.shape[a])) fail('slice', `range ${start}:${end} is out of bounds for dim ${a} of ${shapeString(x.shape)}`);
  return x.backend.slice(x, a, start, end);
}

/** Splits x into `parts` equal pieces along `axis` (torch.chunk for a divisible size). */
export function chunk(x: Tensor, parts: number, axis: number): Tensor[] {
  const a = normAxis('chunk', x, axis);
  const size = x.shape[a] / parts;
  if (!Number.isInteger(size)) fail('chunk', `dim ${a} of ${shapeString(x.shape)} does not split into ${parts}`);
  return Array.from({ length: parts }, (_, i) => slice(x, a, i * size, (i + 1) * size));
}

export function concat(xs: readonly Tensor[], axis: number): Tensor {
  if (xs.length === 0) fail('concat', 'nothing to concatenate');
  requireSameBackend('concat', xs);
  const a = normAxis('concat', xs[0], axis);
  for (const t of xs) {
    if (t.dtype !== xs[0].dtype || t.rank !== xs[0].rank || t.shape.some((d, i) => i !== a && d !== xs[0].shape[i])) {
      fail('concat', `${shapeString(t.shape)} does not match ${shapeString(xs[0].shape)} outside dim ${a}`);
    }
  }
  return xs[0].backend.concat(xs, a);
}

/** [N, C, H, W] -> [N, T, C*p*p] patches in (c, py, px) order (the input of a stride-p conv as a matmul). */
export function patchify(x: Tensor, p: number): Tensor {
  requireF32('patchify', x);
  if (x.rank !== 4 || x.shape[2] % p !== 0 || x.shape[3] % p !== 0) fail('patchify', `${shapeString(x.shape)} is not [N, C, H, W] with H and W divisible by ${p}`);
  return x.backend.patchify(x, p);
}

/** [N, h*w, p*p*C] with each token read as (py, px, c) -> [N, C, h*p, w*p]. */
export function unpatchify(x: Tensor, p: number, channels: number, h: number, w: number): Tensor {
  requireF32('unpatchify', x);
  if (x.rank !== 3 || x.shape[1] !== h * w || x.shape[2] !== p * p * channels) {
    fail('unpatchify', `${shapeString(x.shape)} is not [N, ${h * w}, ${p * p * channels}]`);
  }
  return x.backend.unpatchify(x, p, channels, h, w);
}

/**
 * PyTorch's Conv2d with stride 1: x [N, C, H, W], w [O, C, kh, kw], bias [O], `padding` zeros on
 * every side -> [N, O, H + 2p - kh + 1, W + 2p - kw + 1].
 */
export function conv2d(x: Tensor, w: Tensor, bias: Tensor | null, padding: number): Tensor {
  requireF32('conv2d', x, w, ...(bias ? [bias] : []));
  requireSameBackend('conv2d', bias ? [x, w, bias] : [x, w]);
  if (x.rank !== 4) fail('conv2d', `expected x [N, C, H, W], got ${shapeString(x.shape)}`);
  if (w.rank !== 4 || w.shape[1] !== x.shape[1]) fail('conv2d', `weight ${shapeString(w.shape)} does not take inputs ${shapeString(x.shape)}: expected [O, ${x.shape[1]}, kh, kw]`);
  if (bias && (bias.rank !== 1 || bias.shape[0] !== w.shape[0])) fail('conv2d', `bias ${shapeString(bias.shape)} does not fit weight ${shapeString(w.shape)}`);
  if (!Number.isInteger(padding) || padding < 0) fail('conv2d', `padding must be a non-negative integer, got ${padding}`);
  const [, , h, wd] = x.shape, [, , kh, kw] = w.shape;
  if (kh < 1 || kw < 1 || h + 2 * padding < kh || wd + 2 * padding < kw) {
    fail('conv2d', `a ${kh}x${kw} kernel with padding ${padding} does not fit a ${h}x${wd} input`);
  }
  return x.backend.conv2d(x, w, bias, padding);
}

/**
 * PyTorch's GroupNorm(groups, C, eps) over x [N, C, ...] with its affine weight and bias [C],
 * followed by SiLU when `silu` is set (a ResNet block's norm-then-activation, in one pass).
 */
export function groupNorm(x: Tensor, groups: number, eps: number, weight: Tensor, bias: Tensor, silu = false): Tensor {
  requireF32('groupNorm', x, weight, bias);
  requireSameBackend('groupNorm', [x, weight, bias]);
  if (x.rank < 2) fail('groupNorm', `expected x [N, C, ...], got ${shapeString(x.shape)}`);
  const c = x.shape[1];
  if (!Number.isInteger(groups) || groups < 1 || c % groups !== 0) fail('groupNorm', `${c} channels do not split into ${groups} groups`);
  if (!(eps >= 0) || !Number.isFinite(eps)) fail('groupNorm', `eps must be a finite non-negative number, got ${eps}`);
  for (const p of [weight, bias]) if (p.rank !== 1 || p.shape[0] !== c) fail('groupNorm', `affine parameter ${shapeString(p.shape)} does not fit ${c} channels`);
  return x.backend.groupNorm(x, groups, eps, weight, bias, silu);
}

/** Nearest-neighbour upsampling by 2 (torch's interpolate(scale_factor=2, mode="nearest")): [N, C, H, W] -> [N, C, 2H, 2W]. */
export function upsampleNearest2x(x: Tensor): Tensor {
  if (x.rank !== 4) fail('upsampleNearest2x', `expected x [N, C, H, W], got ${shapeString(x.shape)}`);
  return x.backend.upsampleNearest2x(x);
}
