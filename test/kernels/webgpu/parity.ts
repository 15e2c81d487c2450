// What the kernel tests share: the WebGPU backend next to the CPU backend, and a check that an op gives
// the same numbers on both. The CPU backend is the reference semantics (kernels/cpu); the WGSL kernels must match it.

import * as assert from 'uvu/assert';
import type { Backend } from '../../../core/backend.js';
import type { DType, HostArray, Tensor } from '../../../core/tensor.js';
import type { WebGpuBackend } from '../../../core/webgpu/index.js';
import { testBackends, testWebGpu } from '../../backends.js';
import { maxRelErr } from '../../../core/accuracy.js';
import { randn } from '../../reference.js';

interface Pair {
  gpu: WebGpuBackend;
  cpu: Backend;
  /** The backend a tensor lives on: lets an op given to expectParity call a kernel directly on the GPU. */
  backend(t: Tensor): Backend;
}

/** The two backends, or null when there is no WebGPU adapter (testBackends logs why). */
export async function kernelBackends(): Promise<Pair | null> {
  const [cpu] = await testBackends();
  const gpu = await testWebGpu();
  return gpu ? { gpu, cpu, backend: (t) => t.backend } : null;
}

/** An input: data and shape (dtype f32 unless the data is an Int32Array). */
export type Input = [data: HostArray, shape: number[]];

/** Random f32 data of a shape, deterministic per seed. */
export function rand(shape: number[], seed: number, scale = 1): Input {
  const n = shape.reduce((a, d) => a * d, 1);
  return [randn(n, seed).map((v) => v * scale), shape];
}

/**
 * Runs `op` on both backends with the same inputs and checks max |gpu - cpu| / max |cpu| <= tol, and
 * that the shapes and dtypes agree. `tol` 0 means bit-exact (data movement).
 */
export async function expectParity(pair: Pair, what: string, op: (...xs: Tensor[]) => Tensor, inputs: Input[], tol = 1e-4): Promise<void> {
  const run = async (be: Backend) => {
    const xs = inputs.map(([data, shape]) => be.upload(data, shape, (data instanceof Int32Array ? 'i32' : 'f32') as DType));
    const y = op(...xs);
    return { shape: y.shape, dtype: y.dtype, data: await y.read() };
  };
  const want = await run(pair.cpu);
  const got = await run(pair.gpu);
  assert.equal(got.shape, want.shape, `${what}: shape`);
  assert.is(got.dtype, want.dtype, `${what}: dtype`);
  if (tol === 0) {
    assert.equal(Array.from(got.data), Array.from(want.data), `${what}: values`);
  } else {
    const err = maxRelErr(got.data, want.data);
    assert.ok(err <= tol, `${what}: relative error ${err.toExponential(2)} > ${tol}`);
    assert.ok(got.data.every(Number.isFinite), `${what}: non-finite values`);
  }
}

/** Runs `fn` with some of the backend's kernel choices overridden, restoring them afterwards. */
export async function withOverrides(gpu: WebGpuBackend, overrides: WebGpuBackend['overrides'], fn: () => Promise<void>): Promise<void> {
  const saved = { ...gpu.overrides };
  Object.assign(gpu.overrides, overrides);
  try {
    await fn();
  } finally {
    for (const key of Object.keys(gpu.overrides) as (keyof WebGpuBackend['overrides'])[]) delete gpu.overrides[key];
    Object.assign(gpu.overrides, saved);
  }
}
