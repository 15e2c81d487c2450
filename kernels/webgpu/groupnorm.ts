// GroupNorm over x [N, C, S] (S = the spatial size), PyTorch's nn.GroupNorm with its affine weight and
// bias, optionally followed by SiLU (a ResNet block's norm-then-activation in one pass):
//   y = (x - mean_g) / sqrt(var_g + eps) * weight[c] + bias[c]        (biased variance, like PyTorch)
//
// The C / G channels of a group are consecutive, so one group of one image is one contiguous run of
// (C / G) * S values. One workgroup takes one such run. Unlike a LayerNorm row, a run is far too long
// to hold in registers (a Stable Diffusion decoder's last level: 4 channels x 256 x 256), so the
// workgroup sweeps it three times, each invocation striding by the workgroup size W (vec4s where S is a
// multiple of 4): the sum, reduced across the workgroup to the mean; the squared deviations from that
// mean, reduced to the variance (the two-pass form: one-pass E[x^2] - E[x]^2 cancels when |mean| is
// large next to the spread); then the normalised, per-channel scaled output. Channel by channel in the
// last sweep, so the affine parameters are two scalars per channel. W and the reduction (a tree in
// workgroup memory, or subgroup operations on lavapipe) come from `rowPlan` in kernels/webgpu/kernel.ts,
// as for LayerNorm. N * G workgroups is few for a large GPU (32 for one image), but the op is memory
// bound and a small part of a decoder's time next to its convolutions.

import { ACTIVATIONS_WGSL } from './activations.js';
import { f32, flatGrid, opaque, rowPlan, rowReduce, u32, type Kernel, type KernelCaps } from './kernel.js';

export function groupNormKernel(images: number, channels: number, spatial: number, groups: number, eps: number, silu: boolean, caps: KernelCaps): Kernel {
  const perGroup = channels / groups;
  const runs = images * groups;
  const plan = rowPlan(perGroup * spatial, caps);
  const { W } = plan;
  const V = spatial % 4 === 0 ? 4 : 1;
  const vt = V === 4 ? 'vec4<f32>' : 'f32';
  const S = spatial / V; // elements (vec4 or scalar) of one channel
  const { grid, index } = flatGrid(runs, caps.maxGridDim);
  const total = (v: string) => (V === 4 ? `(${v}.x + ${v}.y + ${v}.z + ${v}.w)` : v);
  return {
    key: `groupNorm|${images}x${channels}x${spatial}|${groups}|${eps}|${silu}|${W}${plan.subgroup ? 's' : ''}`,
    grid,
    wgsl: () => /* wgsl */ `${plan.subgroup ? 'enable subgroups;' : ''}
@group(0) @binding(0) var<storage, read> x: array<${vt}>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<${vt}>;
${silu ? ACTIVATIONS_WGSL : ''}
${rowReduce('sum', plan, 'add')}

const RUN = ${u32(perGroup * S)};
@compute @workgroup_size(${W})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  // Every invocation takes part in the reductions, so a workgroup past the last run computes on a
  // clamped run and only skips the stores.
  let run = ${index};
  let base = min(run, ${u32(runs - 1)}) * RUN;
  let half = ${opaque(W / 2)};
  var s = 0.0f;
  for (var i = lid; i < RUN; i += ${u32(W)}) {
    let v = x[base + i];
    s += ${total('v')};
  }
  let mean = sum(s, lid, half) / ${f32(perGroup * spatial)};
  var q = 0.0f;
  for (var i = lid; i < RUN; i += ${u32(W)}) {
    let d = x[base + i] - ${vt}(mean);
    let d2 = d * d;
    q += ${total('d2')};
  }
  let inv = inverseSqrt(sum(q, lid, half) / ${f32(perGroup * spatial)} + ${f32(eps)});
  if (run >= ${u32(runs)}) { return; }
  let c0 = (run % ${u32(groups)}) * ${u32(perGroup)};
  for (var c = 0u; c < ${opaque(perGroup)}; c++) {
    let a = weight[c0 + c] * inv;
    let b = bias[c0 + c];
    let at = base + c * ${u32(S)};
    for (var i = lid; i < ${u32(S)}; i += ${u32(W)}) {
      let y = (x[at + i] - ${vt}(mean)) * a + b;
      out[at + i] = ${silu ? (V === 4 ? 'silu4(y)' : 'silu(y)') : 'y'};
    }
  }
}`,
  };
}
