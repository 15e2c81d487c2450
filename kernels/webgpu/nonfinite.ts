// flags[slot] |= 1 << j for each input x_j that holds a NaN or an infinity: the sampling loop's
// per-step check (its output and the new x in one dispatch), done on the device so that nothing is
// read back until the loop waits anyway.
//
// One invocation per element index (per vec4 where every size allows), 256 per workgroup; invocation i
// tests element i of each input that has one, in registers, and shares nothing. WGSL has no
// isnan/isinf, and a compiler may assume floats are finite and fold such tests away, so the inputs
// are bound as u32 and tested by their bits: all exponent bits set means an infinity or a NaN. An
// invocation that finds one sets its bit with an atomic OR, after an atomic load that skips the write
// once the bit is set: a tensor full of NaN then costs reads, not millions of writes to one address.
// The slot comes from a one-element buffer, not from the source, so every step of a run shares one
// pipeline.

import { flatGrid, u32, type Kernel, type KernelCaps } from './kernel.js';

const WORKGROUP = 256;
const EXPONENT = '0x7f800000u';

export function nonFiniteKernel(sizes: readonly number[], caps: KernelCaps): Kernel {
  const vec = sizes.every((s) => s % 4 === 0);
  const counts = sizes.map((s) => (vec ? s / 4 : s));
  const count = Math.max(...counts);
  const { grid, index } = flatGrid(Math.ceil(count / WORKGROUP), caps.maxGridDim);
  const type = vec ? 'vec4<u32>' : 'u32';
  const n = sizes.length;
  const tests = counts.map((c, j) => {
    const bad = `any((x${j}[i] & ${type}(${EXPONENT})) == ${type}(${EXPONENT}))`;
    return `  if (${c === count ? '' : `i < ${u32(c)} && `}${bad}) { flag(${u32(1 << j)}); }`;
  });
  return {
    key: `nonFinite|${sizes.join(',')}`,
    grid,
    wgsl: () => /* wgsl */ `
${sizes.map((_, j) => `@group(0) @binding(${j}) var<storage, read> x${j}: array<${type}>;`).join('\n')}
@group(0) @binding(${n}) var<storage, read> slot: array<u32>;
@group(0) @binding(${n + 1}) var<storage, read_write> flags: array<atomic<u32>>;

fn flag(bit: u32) {
  if ((atomicLoad(&flags[slot[0]]) & bit) == 0u) { atomicOr(&flags[slot[0]], bit); }
}

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = ${index} * ${u32(WORKGROUP)} + lid;
  if (i >= ${u32(count)}) { return; }
${tests.join('\n')}
}`,
  };
}
