// Softmax over the last dim: y = exp(x - max) / sum(exp(x - max)).
//
// The same plan as LayerNorm (kernels/webgpu/layernorm.ts): one workgroup per row, each invocation keeps its
// strided share of the row in registers, and two reductions across the workgroup give the row's max and
// then the sum of exponentials. Subtracting the max first keeps every exponent <= 0, so nothing overflows
// however large the logits are. (Attention does not use this kernel: kernels/webgpu/attention.ts folds the
// softmax into a running max and sum and never materialises the score rows.)

import { flatGrid, rowLoad, rowPlan, rowReduce, u32, type Kernel, type KernelCaps } from './kernel.js';

export function softmaxKernel(rows: number, dim: number, caps: KernelCaps): Kernel {
  const plan = rowPlan(dim, caps);
  const { W, per } = plan;
  const { grid, index } = flatGrid(rows, caps.maxGridDim);
  return {
    key: `softmax|${rows}x${dim}|${W}${plan.subgroup ? 's' : ''}`,
    grid,
    wgsl: () => /* wgsl */ `${plan.subgroup ? 'enable subgroups;' : ''}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
${rowReduce('rowMax', plan, 'max')}
${rowReduce('rowSum', plan, 'add')}

const D = ${u32(dim)};
@compute @workgroup_size(${W})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  // Slots past the row hold the lowest f32, which moves no max; the exp loop zeroes them.
  var m = -3.4028234e38f;
  ${rowLoad(plan, rows, index, '-3.4028234e38f', 'm = max(m, v[j]);')}
  m = rowMax(m, lid, half);
  var s = 0.0f;
  for (var j = 0u; j < ${u32(per)}; j++) {
    let d = lid + j * ${u32(W)};
    v[j] = select(0.0f, exp(v[j] - m), d < D);
    s += v[j];
  }
  let inv = 1.0f / rowSum(s, lid, half);
  if (row >= ${u32(rows)}) { return; }
  for (var j = 0u; j < ${u32(per)}; j++) {
    let d = lid + j * ${u32(W)};
    if (d < D) { out[base + d] = v[j] * inv; }
  }
}`,
  };
}
