// What the checkpoint loaders of every model (models/dit, models/vae) share: the dtypes read as weights,
// the bound on one tensor, name lists for messages, reading a tensor as finite f32, and random weights
// for benchmarks. Every refusal
// is one line naming the file and the tensor.

import type { Backend } from '../core/backend.js';
import type { Checkpoint } from '../core/checkpoint.js';
import { UserError } from '../core/errors.js';
import { memoryBytes } from '../core/host.js';
import type { SafeDType } from '../core/safetensors.js';
import { numel, sameShape, shapeString, type Shape } from '../core/shape.js';
import type { Tensor } from '../core/tensor.js';

/** Float dtypes read as weights, all widened (F64: rounded) to f32. */
export const WEIGHT_DTYPES: ReadonlySet<SafeDType> = new Set(['F32', 'F16', 'BF16', 'F64']);

/**
 * One tensor is read into one typed array (at most 4 GiB on Node 20) and bound as one GPU buffer (at
 * most 4 GiB on any adapter); the largest tensor of DiT-XL/2 takes 21 MB, of the SD VAE 9 MB.
 */
export const MAX_TENSOR_BYTES = 2 ** 32;

/** A list of names for a message: the first few, quoted (a name may hold any character), then "...". */
function nameList(names: readonly string[]): string {
  const shown = names.slice(0, 4).map((n) => JSON.stringify(n)).join(', ');
  return names.length > 4 ? `${shown}, ...` : shown;
}

export function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

/** A NaN or infinite weight poisons every output; it is refused with its position. */
function checkFinite(file: string, name: string, dtype: SafeDType, shape: Shape, data: Float32Array): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (Number.isFinite(v)) continue;
    const at = `[${unravel(i, shape).join(', ')}] (flat index ${i})`;
    // F64 values beyond the f32 range round to infinity: the file may well hold a finite number there.
    const what = dtype === 'F64' && !Number.isNaN(v) ? `a value beyond the f32 range at ${at}` : `${v} at ${at}`;
    throw new UserError(`${file}: tensor "${name}" holds ${what}: weights must be finite; re-export the checkpoint`);
  }
}

function unravel(index: number, shape: Shape): number[] {
  const coords = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    coords[d] = index % shape[d];
    index = Math.floor(index / shape[d]);
  }
  return coords;
}

/** Tensor `name` of an open checkpoint as f32, checked to be finite. */
export function readWeight(file: Checkpoint, name: string): Float32Array {
  const info = file.tensors.get(name)!;
  let data: Float32Array;
  try {
    data = file.readF32(name);
  } catch (e) {
    if (e instanceof RangeError) throw new UserError(`${file.path}: not enough memory to read tensor "${name}" (${gib(numel(info.shape) * 4)} as f32)`);
    throw e;
  }
  checkFinite(file.path, name, info.dtype, info.shape, data);
  return data;
}

/**
 * Builds a model's weights from an open checkpoint: `build` asks for each tensor by name and shape, and
 * gets it read (finite, as f32) and uploaded to `backend`. Only one tensor is ever held on the host at a
 * time; on a failure the tensors already uploaded are released.
 */
export function uploadWeights<W>(file: Checkpoint, backend: Backend, build: (get: (name: string, shape: Shape) => Tensor) => W): W {
  const uploaded: Tensor[] = [];
  try {
    return build((name, shape) => {
      const tensor = backend.upload(readWeight(file, name), shape, 'f32');
      uploaded.push(tensor);
      return tensor;
    });
  } catch (e) {
    for (const t of uploaded) t.dispose();
    throw e;
  }
}

/** `fn`'s result, with the checkpoint's path put in front of a UserError it throws (a config reader's). */
export function inFile<T>(path: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof UserError) throw new UserError(`${path}: ${e.message}`);
    throw e;
  }
}

/** A tensor a model's config implies: its name in the checkpoint and its shape. */
export interface Expected {
  name: string;
  shape: Shape;
  /** Another shape the same weights may be stored in (a 1x1 conv's [C, C, 1, 1] for a Linear [C, C]). */
  alternative?: Shape;
}

/**
 * Checks a checkpoint's tensors against what a config implies, from the header alone: every expected
 * tensor is there with its shape and a float dtype, nothing else is (but names under `ignored`
 * prefixes, parts of a file the model skips unread), and the weights fit in memory as f32. In the
 * messages `kind` names the architecture ("DiT"), `model` what lacks a tensor ("a DiT") and `question`
 * asks whether the file is what was meant. Throws one line naming the file and the misfits.
 */
export function checkTensors(
  file: string, tensors: ReadonlyMap<string, { shape: Shape; dtype: SafeDType }>, expected: readonly Expected[],
  o: { kind: string; model: string; question: string; ignored?: readonly string[] },
): void {
  const missing = expected.filter((e) => !tensors.has(e.name));
  if (missing.length === 1) {
    throw new UserError(`${file}: missing tensor "${missing[0]!.name}" (expected shape ${shapeString(missing[0]!.shape)}): the checkpoint is incomplete; re-export it`);
  }
  if (missing.length > 1) {
    throw new UserError(`${file}: ${missing.length} tensors missing: ${nameList(missing.map((e) => e.name))}: the checkpoint is incomplete; re-export it`);
  }
  const known = new Set(expected.map((e) => e.name));
  const unknown = [...tensors.keys()].filter((name) => !known.has(name) && !(o.ignored ?? []).some((p) => name.startsWith(p)));
  if (unknown.length > 0) {
    const what = unknown.length === 1 ? `a tensor that ${o.model} does not have` : `${unknown.length} tensors that ${o.model} does not have`;
    throw new UserError(`${file}: ${what}: ${nameList(unknown)}: ${o.question}`);
  }
  let totalBytes = 0;
  for (const e of expected) {
    const { shape, dtype } = tensors.get(e.name)!;
    if (!sameShape(shape, e.shape) && !(e.alternative && sameShape(shape, e.alternative))) {
      throw new UserError(`${file}: tensor "${e.name}" has shape ${shapeString(shape)}, expected ${shapeString(e.shape)} for this config`);
    }
    if (!WEIGHT_DTYPES.has(dtype)) {
      throw new UserError(`${file}: tensor "${e.name}" is ${dtype}; ${o.kind} weights are floating point (F32, F16, BF16 or F64): re-export the checkpoint with float weights`);
    }
    const bytes = numel(shape) * 4;
    if (bytes > MAX_TENSOR_BYTES) {
      throw new UserError(`${file}: tensor "${e.name}" ${shapeString(shape)} takes ${gib(bytes)} as f32, more than one buffer can hold (${gib(MAX_TENSOR_BYTES)}): is this a ${o.kind} checkpoint?`);
    }
    totalBytes += bytes;
  }
  // A sparse file can declare tensors far larger than the disk space it uses.
  if (totalBytes > memoryBytes()) throw new UserError(`${file}: the weights take ${gib(totalBytes)} as f32, more than this machine's ${gib(memoryBytes())} of memory`);
}

/**
 * A source of deterministic random weights for benchmarks, in the shape of a checkpoint reader: each
 * call gives the next tensor, uniform in ±0.05 (values do not change the work, and this spread keeps
 * activations finite through any depth). One seed, one sequence of tensors.
 */
export function randomWeightSource(backend: Backend, seed = 0): (name: string, shape: Shape) => Tensor {
  let s = (seed * 2654435761 + 1) >>> 0;
  return (_name, shape) => {
    const data = new Float32Array(numel(shape));
    for (let i = 0; i < data.length; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      data[i] = (s / 4294967296 - 0.5) * 0.1;
    }
    return backend.upload(data, shape, 'f32');
  };
}
