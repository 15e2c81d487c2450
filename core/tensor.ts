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
  private disposed = false;

  constructor(
    readonly backend: Backend,
    readonly shape: Shape,
    readonly dtype: DType,
    readonly storage: Storage,
  ) {
    this.size = numel(shape);
    scopes[scopes.length - 1]?.push(this);
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
    if (this.disposed) return;
    this.disposed = true;
    if (--this.storage.refs === 0) this.backend.release(this.storage);
  }

  toString(): string {
    return `Tensor(${shapeString(this.shape)}, ${this.dtype}, ${this.backend.name})`;
  }
}

/** Tensors created inside each open `tidy` call, innermost last. */
const scopes: Tensor[][] = [];

/**
 * Runs `fn` and disposes every tensor created inside it except those it returns, so a forward pass
 * can build intermediates freely without leaking GPU memory. Tensors made outside (weights) are
 * never touched. Nested calls release their own intermediates when they return.
 */
export function tidy<T extends Tensor | Tensor[]>(fn: () => T): T {
  scopes.push([]);
  let result: T;
  try {
    result = fn();
  } finally {
    const created = scopes.pop()!;
    const keep = new Set<Tensor>(result! === undefined ? [] : Array.isArray(result!) ? result! : [result!]);
    for (const t of created) if (!keep.has(t)) t.dispose();
    // Returned tensors belong to the enclosing scope now.
    for (const t of keep) scopes[scopes.length - 1]?.push(t);
  }
  return result;
}
