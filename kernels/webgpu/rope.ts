// Rotary position embedding (RoPE) as FLUX and Qwen-Image apply it: each adjacent pair (x[2i], x[2i+1])
// of a head's vector is rotated by the angle of its position and frequency,
//   (x0, x1) -> (cos a * x0 - sin a * x1, sin a * x0 + cos a * x1)         (x0 + i x1 times e^{ia})
// x is [B, H, L, D] (heads split out), the table [Bt, L, D/2, 2] holds (cos a, sin a) per token and pair,
// with Bt = B (FLUX: position ids per image) or 1 (one table for the batch).
//
// One invocation rotates one pair: it reads the pair and its (cos, sin) as vec2s and writes the pair, so
// memory is touched once per element and there is nothing to share between invocations (no workgroup
// memory). The angles come from the host, computed in float64 once per forward, because WGSL's sin and
// cos carry no accuracy guarantee at the arguments FLUX reaches (position x frequency up to thousands).

import { ceilDiv, flatGrid, u32, type Kernel, type KernelCaps } from './kernel.js';

const WORKGROUP = 256;

export function ropeKernel(batch: number, heads: number, tokens: number, dim: number, tableBatch: number, caps: KernelCaps): Kernel {
  const pairs = dim / 2, size = batch * heads * tokens * pairs;
  const { grid, index } = flatGrid(ceilDiv(size, WORKGROUP), caps.maxGridDim);
  const tableRow = tableBatch === 1 ? '0u' : `p / ${u32(heads * tokens * pairs)}`;
  return {
    key: `rope|${batch}x${heads}x${tokens}x${dim}|${tableBatch}`,
    grid,
    wgsl: () => /* wgsl */ `
@group(0) @binding(0) var<storage, read> x: array<vec2<f32>>;
@group(0) @binding(1) var<storage, read> table: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<vec2<f32>>;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let p = ${index} * ${u32(WORKGROUP)} + lid;
  if (p >= ${u32(size)}) { return; }
  let token = (p / ${u32(pairs)}) % ${u32(tokens)};
  let cs = table[(${tableRow} * ${u32(tokens)} + token) * ${u32(pairs)} + p % ${u32(pairs)}];
  let v = x[p];
  out[p] = vec2<f32>(cs.x * v.x - cs.y * v.y, cs.y * v.x + cs.x * v.y);
}`,
  };
}
