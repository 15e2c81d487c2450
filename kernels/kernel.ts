// What every kernel family in this folder shares: the description of one GPU dispatch, and a few WGSL
// helpers (number literals, large 1-D grids, workgroup reductions).
//
// A kernel file turns an op and its shapes into a `Kernel`: WGSL source with every size baked in as a
// constant, a cache key that names exactly those constants, and the number of workgroups to launch.
// Baking sizes in costs one pipeline per distinct shape (a DiT has a few dozen), and buys loops the
// shader compiler can unroll, divisions by constants it can strength-reduce, and bounds checks that
// vanish when a size divides the tile. The backend (core/webgpu/backend.ts) owns the GPU objects: it
// compiles each key once, binds the buffers and records the dispatch.
//
// Binding convention: the inputs are bindings 0..n-1 (read-only storage), the output is binding n.
// Pipelines use the 'auto' layout, which keeps only the bindings the shader actually uses, so a
// generator must declare a binding only if its code reads or writes it.

/** What the adapter allows, as far as kernel generators care. */
export interface KernelCaps {
  /** Bytes of workgroup (shared) memory one workgroup may use. */
  maxWorkgroupStorage: number;
  /** Invocations (threads) one workgroup may have. */
  maxInvocations: number;
  /** The largest workgroup count per grid dimension (65535 in WebGPU). */
  maxGridDim: number;
  /** True on a CPU-emulated adapter (lavapipe, SwiftShader): some kernels pick other tilings there. */
  emulated: boolean;
}

/** WebGPU's guaranteed minimums: what a kernel may assume on any adapter. */
export const BASELINE_CAPS: KernelCaps = { maxWorkgroupStorage: 16384, maxInvocations: 256, maxGridDim: 65535, emulated: false };

export interface Kernel {
  /** Family name and every constant baked into the source; equal keys must mean equal WGSL. */
  readonly key: string;
  /** The WGSL source. Called only when the key is not in the pipeline cache yet. */
  wgsl(): string;
  /** Workgroups to launch in x, y, z. */
  readonly grid: readonly [number, number, number];
}

/** An f32 literal that reads back as exactly Math.fround(x) ("1e-6" -> "1e-6f", "2" -> "2.0f"). */
export function f32(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`cannot write ${x} as a WGSL literal`);
  const s = String(Math.fround(x));
  return /[.e]/.test(s) ? `${s}f` : `${s}.0f`;
}

/** A u32 literal. */
export function u32(x: number): string {
  if (!Number.isInteger(x) || x < 0 || x > 0xffffffff) throw new Error(`${x} is not a u32`);
  return `${x}u`;
}

export const ceilDiv = (a: number, b: number): number => Math.ceil(a / b);

/**
 * A grid of `groups` workgroups laid out over x and, past maxGridDim, y as well (WebGPU caps each
 * dimension at 65535 workgroups). `index` is the WGSL expression of the flat workgroup index, given
 * `wid`, the workgroup_id builtin; workgroups past `groups` in the last row must return early.
 */
export function flatGrid(groups: number, maxGridDim = 65535): { grid: [number, number, number]; index: string } {
  if (groups <= maxGridDim) return { grid: [groups, 1, 1], index: 'wid.x' };
  const x = maxGridDim;
  return { grid: [x, ceilDiv(groups, x), 1], index: `(wid.x + wid.y * ${u32(x)})` };
}

/**
 * WGSL for a tree reduction over a workgroup of `size` invocations (a power of two): every invocation
 * passes its value and gets the combined value of all of them. `combine` is a WGSL expression in a and b
 * (e.g. "a + b", "max(a, b)"). Each step halves the active invocations, so it takes log2(size) barriers;
 * the final barrier lets `scratch` be reused by the next reduction.
 */
export function workgroupReduce(name: string, size: number, combine: string): string {
  if ((size & (size - 1)) !== 0) throw new Error(`workgroup size ${size} is not a power of two`);
  return /* wgsl */ `
var<workgroup> ${name}_scratch: array<f32, ${size}>;
fn ${name}(value: f32, lid: u32) -> f32 {
  ${name}_scratch[lid] = value;
  workgroupBarrier();
  for (var stride = ${u32(size / 2)}; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      let a = ${name}_scratch[lid];
      let b = ${name}_scratch[lid + stride];
      ${name}_scratch[lid] = ${combine};
    }
    workgroupBarrier();
  }
  let result = ${name}_scratch[0];
  workgroupBarrier();
  return result;
}`;
}

/** One operand of a `mapKernel`. */
export interface MapInput {
  /** WGSL name of the binding; the value read is available to later expressions as `<name>_v`. */
  name: string;
  /** WGSL u32 expression of the element to read, in the output index `i` (and earlier inputs' `_v`). */
  index: string;
  /** Element type of the binding; f32 unless given. */
  type?: 'f32' | 'u32' | 'i32';
}

const MAP_WORKGROUP = 256;

/**
 * out[i] = expr for every i in [0, size): the generator behind the elementwise and layout kernels. One
 * invocation per output element, 256 per workgroup (`outIndex` may send element i elsewhere). Inputs are bound in the order given (and read in
 * that order, so an index may use an earlier input's value: a gather); the output is bound last.
 */
export function mapKernel(
  key: string, size: number, inputs: MapInput[], expr: string, caps: KernelCaps,
  opts: { prelude?: string; outType?: 'f32' | 'u32'; outIndex?: string } = {},
): Kernel {
  const { grid, index } = flatGrid(ceilDiv(size, MAP_WORKGROUP), caps.maxGridDim);
  const outType = opts.outType ?? 'f32';
  return {
    key: `${key}|${size}`,
    grid,
    wgsl: () => /* wgsl */ `
${inputs.map((inp, b) => `@group(0) @binding(${b}) var<storage, read> ${inp.name}: array<${inp.type ?? 'f32'}>;`).join('\n')}
@group(0) @binding(${inputs.length}) var<storage, read_write> out: array<${outType}>;
${opts.prelude ?? ''}
@compute @workgroup_size(${MAP_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = ${index} * ${u32(MAP_WORKGROUP)} + lid;
  if (i >= ${u32(size)}) { return; }
${inputs.map((inp) => `  let ${inp.name}_v = ${inp.name}[${inp.index}];`).join('\n')}
  out[${opts.outIndex ?? 'i'}] = ${expr};
}`,
  };
}
