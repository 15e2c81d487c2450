// Training data for L2P: full-compute trajectories of the model's final output, [B, S, ...]: B runs
// (prompts, seeds), S sampling steps, and any element shape per step (4x32x32 for DiT-XL/2 at 256 px).
// Fitting treats each step's output as one flat vector of D elements.

import { UserError } from '../../core/errors.js';
import { SafetensorsFile } from '../../core/safetensors.js';
import { shapeString } from '../../core/shape.js';

export interface Trajectories {
  /** row-major [batch, steps, size] */
  data: Float32Array;
  batch: number;
  steps: number;
  /** elements per step (D) */
  size: number;
  /** the per-step element shape, e.g. [4, 32, 32] */
  elementShape: number[];
}

/** Fewer steps leave nothing to learn: row 0 of W would be the whole model. */
const MIN_STEPS = 3;

/** The output of trajectory b at step s (a view, no copy). */
export function stepOutput(t: Trajectories, b: number, s: number): Float32Array {
  const start = (b * t.steps + s) * t.size;
  return t.data.subarray(start, start + t.size);
}

/** Wraps and checks an in-memory [B, S, ...] array. */
export function makeTrajectories(data: Float32Array, shape: readonly number[], source = 'trajectories'): Trajectories {
  if (shape.length < 3) {
    throw new UserError(`${source}: trajectories have shape ${shapeString(shape)}, expected [B, S, ...] (runs, steps, then the output's own dims)`);
  }
  const [batch, steps, ...elementShape] = shape as [number, number, ...number[]];
  const size = elementShape.reduce((a, d) => a * d, 1);
  if (data.length !== batch * steps * size) throw new Error(`${source}: ${data.length} values for shape ${shapeString(shape)}`);
  if (batch < 1 || size < 1) throw new UserError(`${source}: trajectories ${shapeString(shape)} are empty`);
  if (steps < MIN_STEPS) throw new UserError(`${source}: trajectories have only ${steps} steps; fitting needs at least ${MIN_STEPS}`);
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) {
      const b = Math.floor(i / (steps * size)), s = Math.floor(i / size) % steps;
      throw new UserError(`${source}: trajectory ${b}, step ${s} holds ${data[i]} (element ${i % size}): the data must be finite; regenerate it`);
    }
  }
  return { data, batch, steps, size, elementShape };
}

/** Reads tensor `name` ([B, S, ...], any float dtype) from a safetensors file. */
export function readTrajectories(path: string, name = 'trajectories'): Trajectories {
  const file = SafetensorsFile.open(path);
  try {
    if (!file.has(name)) {
      const names = [...file.tensors.keys()].slice(0, 5).map((n) => JSON.stringify(n)).join(', ');
      throw new UserError(`${path}: no tensor "${name}" (the file has ${names || 'none'}): trajectories go in "${name}" [B, S, ...]`);
    }
    const info = file.info(name);
    if (!['F32', 'F16', 'BF16', 'F64'].includes(info.dtype)) {
      throw new UserError(`${path}: "${name}" has dtype ${info.dtype}; trajectories must be floating point (F32)`);
    }
    return makeTrajectories(file.readF32(name), info.shape, path);
  } finally {
    file.close();
  }
}
