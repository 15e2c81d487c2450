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
  /** Storage buffers one shader may bind, its output included (8 in WebGPU, far more on most adapters). */
  maxStorageBuffers: number;
  /** True on a CPU-emulated adapter (lavapipe, SwiftShader): some kernels pick other tilings there. */
  emulated: boolean;
  /**
   * The subgroup size where the device has the 'subgroups' feature and a single fixed size (lavapipe:
   * 8, the width of its SIMD registers); null otherwise. The subgroup kernels need a fixed size.
   */
  subgroupSize: number | null;
}

/** WebGPU's guaranteed minimums: what a kernel may assume on any adapter. */
export const BASELINE_CAPS: KernelCaps = {
  maxWorkgroupStorage: 16384, maxInvocations: 256, maxGridDim: 65535, maxStorageBuffers: 8, emulated: false, subgroupSize: null,
};

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
 * How a row kernel (LayerNorm, softmax: one workgroup per row) spreads a row of `dim` over its W
 * invocations, `per` values each. On GPUs, W is the smallest power of two giving every invocation at
 * most 8 values (capped at 256), and rows are reduced with a tree in workgroup memory. On lavapipe
 * (CPU-emulated, fixed subgroup size S) the workgroup is one subgroup, W = S, and a reduction is
 * subgroupAdd/subgroupMax: a few register shuffles instead of log2(W) barriers, which lavapipe runs as
 * coroutine switches between the chunks of a workgroup (LayerNorm took 14% of a DiT forward with them).
 */
interface RowPlan {
  W: number;
  per: number;
  subgroup: boolean;
}

export function rowPlan(dim: number, caps: KernelCaps): RowPlan {
  if (caps.emulated && caps.subgroupSize) return { W: caps.subgroupSize, per: ceilDiv(dim, caps.subgroupSize), subgroup: true };
  let W = 32;
  while (W < Math.min(256, caps.maxInvocations) && W * 8 < dim) W *= 2;
  return { W, per: ceilDiv(dim, W), subgroup: false };
}

/**
 * The start of a row kernel's main (LayerNorm, softmax): `row` (from the flat grid index `index`),
 * `base` (the row's offset in x, a constant D in scope), `half` for the reductions, and
 * `v[j] = x[base + lid + jW]`, with `pad` in the slots past D, each also fed to `accumulate` (WGSL
 * statements using v[j]). Every invocation takes part in the reductions (barriers must be reached by
 * all), so a workgroup past the last row computes on a clamped row and only skips the store.
 */
export function rowLoad(plan: RowPlan, rows: number, index: string, pad: string, accumulate: string): string {
  return `let row = ${index};
  let base = min(row, ${u32(rows - 1)}) * D;
  let half = ${opaque(plan.W / 2)};
  var v: array<f32, ${plan.per}>;
  for (var j = 0u; j < ${u32(plan.per)}; j++) {
    let d = lid + j * ${u32(plan.W)};
    v[j] = select(${pad}, x[base + min(d, D - 1u)], d < D);
    ${accumulate}
  }`;
}

/**
 * WGSL for `fn name(value: f32, lid: u32, half: u32) -> f32`: every invocation of the workgroup passes
 * its value and gets the combination of all of them (`op` 'add' or 'max'). The tree form halves the
 * active invocations per step, so it takes log2(W) barriers; the final barrier lets the scratch memory
 * be reused by the next reduction. The caller passes `half` = W / 2 as `opaque(W / 2)`, so that the
 * step loop stays a loop (see `opaque`). The subgroup form needs `enable subgroups;` in the module.
 */
export function rowReduce(name: string, plan: RowPlan, op: 'add' | 'max'): string {
  if (plan.subgroup) {
    return `fn ${name}(value: f32, lid: u32, half: u32) -> f32 { return ${op === 'add' ? 'subgroupAdd' : 'subgroupMax'}(value); }`;
  }
  const size = plan.W;
  if ((size & (size - 1)) !== 0) throw new Error(`workgroup size ${size} is not a power of two`);
  return /* wgsl */ `
var<workgroup> ${name}_scratch: array<f32, ${size}>;
fn ${name}(value: f32, lid: u32, half: u32) -> f32 {
  ${name}_scratch[lid] = value;
  workgroupBarrier();
  for (var stride = half; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      let a = ${name}_scratch[lid];
      let b = ${name}_scratch[lid + stride];
      ${name}_scratch[lid] = ${op === 'add' ? 'a + b' : 'max(a, b)'};
    }
    workgroupBarrier();
  }
  let result = ${name}_scratch[0];
  workgroupBarrier();
  return result;
}`;
}

/** One operand of a `mapKernel`. */
interface MapInput {
  /** WGSL name of the binding; the value read is available to later expressions as `<name>_v`. */
  name: string;
  /** WGSL u32 expression of the element to read, in the output index `i` (and earlier inputs' `_v`). */
  index: string;
  /** Scalar type of the binding; f32 unless given. */
  type?: 'f32' | 'u32' | 'i32';
  /** Bound as vec4s of that type (the index then counts vec4s). */
  vec4?: boolean;
}

const MAP_WORKGROUP = 256;

/**
 * out[i] = expr for every i in [0, size): the generator behind the elementwise and layout kernels. One
 * invocation per output element, 256 per workgroup; `outIndex` may send element i elsewhere. Inputs
 * are bound in the order given and read in that order, so an index may use an earlier input's value (a
 * gather); the output is bound last. With `vec4`, the output's elements are vec4s and `size` counts
 * them: callers take this path when the innermost dim is a multiple of 4, for a quarter of the
 * invocations and index arithmetic, and 16-byte memory accesses.
 */
export function mapKernel(
  key: string, size: number, inputs: MapInput[], expr: string, caps: KernelCaps,
  opts: { prelude?: string; outType?: 'f32' | 'u32'; outIndex?: string; vec4?: boolean } = {},
): Kernel {
  const { grid, index } = flatGrid(ceilDiv(size, MAP_WORKGROUP), caps.maxGridDim);
  const type = (t: string, vec: boolean | undefined) => (vec ? `vec4<${t}>` : t);
  return {
    key: `${key}|${size}${opts.vec4 ? 'x4' : ''}`,
    grid,
    wgsl: () => /* wgsl */ `
${inputs.map((inp, b) => `@group(0) @binding(${b}) var<storage, read> ${inp.name}: array<${type(inp.type ?? 'f32', inp.vec4)}>;`).join('\n')}
@group(0) @binding(${inputs.length}) var<storage, read_write> out: array<${type(opts.outType ?? 'f32', opts.vec4)}>;
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

/**
 * WGSL for the number n, written so that the shader compiler cannot treat it as a constant: it reads
 * as n at run time (the grid never has 65536 workgroups in z). Used as a loop bound where a loop must
 * stay a loop: Mesa's lavapipe unrolls every loop with a constant trip count of up to 32, and each
 * unrolled memory access becomes ~100 instructions of per-lane code (see kernels/webgpu/matmul.ts), which
 * made single kernels take seconds to minutes to compile. GPU compilers lose nothing by it: these loops
 * run once per row or tile, not in the inner product. Needs `wid`, the workgroup_id builtin, in scope.
 */
export function opaque(n: number): string {
  return `select(${u32(n)}, 0u, wid.z > 65535u)`;
}
