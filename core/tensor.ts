// A Tensor is a shape, a dtype and a handle to storage owned by a backend. Tensors are always
// contiguous and row-major; `reshape` shares storage, every other op writes a new tensor.
// Element data lives where the backend keeps it (a SharedArrayBuffer for the CPU, a GPUBuffer for
// WebGPU); `read()` is the only way back to the host and is async because GPU readback is.

import type { Backend } from './backend.js';
import { numel, shapeString, type Shape } from './shape.js';

/** Compute dtypes. Checkpoints may hold others (F16, BF16, ...); they are widened on load. */
export type DType = 'f32' | 'i32';

export type HostArray = Float32Array | Int32Array;

/** Backend-owned storage. `refs` counts the tensors that share it (reshape views). */
export interface Storage {
  refs: number;
}

export class Tensor {
  readonly size: number;

  constructor(
    readonly backend: Backend,
    readonly shape: Shape,
    readonly dtype: DType,
    readonly storage: Storage,
  ) {
    this.size = numel(shape);
  }

  get rank(): number {
    return this.shape.length;
  }

  /** A view with a new shape over the same storage (no copy). One dim may be -1. */
  reshape(shape: readonly number[]): Tensor {
    const known = shape.reduce((a, d) => (d === -1 ? a : a * d), 1);
    const resolved = shape.map((d) => (d === -1 ? this.size / known : d));
    if (numel(resolved) !== this.size || resolved.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new Error(`cannot reshape ${shapeString(this.shape)} to ${shapeString(shape)}`);
    }
    this.storage.refs++;
    return new Tensor(this.backend, resolved, this.dtype, this.storage);
  }

  /** Copy the elements to the host. */
  read(): Promise<HostArray> {
    return this.backend.read(this);
  }

  /** Give the storage back to the backend once no view uses it. Using the tensor afterwards is an error. */
  dispose(): void {
    if (--this.storage.refs === 0) this.backend.release(this.storage);
  }

  toString(): string {
    return `Tensor(${shapeString(this.shape)}, ${this.dtype}, ${this.backend.name})`;
  }
}
