// One way to open a checkpoint, whatever its format: safetensors, or the zip file that torch.save
// has written since PyTorch 1.6 (core/pytorch.ts). Models load weights through this interface, so
// every command that takes a checkpoint takes both.
//
// The format is told by the first bytes, not the name: a .pt renamed .safetensors (or the reverse)
// still opens, and a file that is neither is refused by the reader its name points to.

import * as fs from 'node:fs';
import { UserError } from './errors.js';
import { requireRegularFile } from './files.js';
import { PyTorchFile } from './pytorch.js';
import { SafetensorsFile, type SafeDType } from './safetensors.js';

export interface CheckpointTensor {
  dtype: SafeDType;
  shape: number[];
}

/** What both readers offer: names, dtypes and shapes up front, values on demand. */
export interface Checkpoint {
  readonly path: string;
  /** safetensors' __metadata__; empty for PyTorch files (their pickled extras are never read). */
  readonly metadata: Record<string, string>;
  /** Every tensor, in file (state-dict) order. */
  readonly tensors: ReadonlyMap<string, CheckpointTensor>;
  has(name: string): boolean;
  /** The tensor as f32, row-major: F16 and BF16 widen exactly, F64 rounds. */
  readF32(name: string): Float32Array;
  /** The tensor's elements, row-major and little-endian, in its stored dtype. */
  readRaw(name: string): Uint8Array;
  close(): void;
}

export type CheckpointFormat = 'safetensors' | 'pytorch';

/** A zip file's first local header: every file torch.save writes (since PyTorch 1.6) starts with it. */
const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];
/** Pickle's PROTO opcode: the first byte of PyTorch's pre-1.6 (legacy) files. */
const PICKLE_PROTO = 0x80;

/**
 * The format of the file at `path`, from its first bytes: a zip is PyTorch's; 8 bytes of header length
 * then '{' are safetensors (checked before the pickle byte, since a header length may end in 0x80); a
 * leading PROTO is PyTorch's legacy format. A name ending .pt, .pth, .bin or .ckpt decides the rest.
 */
export function checkpointFormat(path: string): CheckpointFormat {
  const head = Buffer.alloc(9);
  let got = 0;
  try {
    const fd = fs.openSync(path, 'r');
    try {
      got = fs.readSync(fd, head, 0, head.length, 0);
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    throw new UserError(`${path}: cannot read the checkpoint (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): check the path and its permissions`);
  }
  if (got >= 4 && ZIP_MAGIC.every((b, i) => head[i] === b)) return 'pytorch';
  if (got === 9 && head[8] === 0x7b) return 'safetensors';
  if (got >= 1 && head[0] === PICKLE_PROTO) return 'pytorch';
  return /\.(pt|pth|bin|ckpt)$/i.test(path) ? 'pytorch' : 'safetensors';
}

/** Opens a checkpoint (safetensors or PyTorch) and reads its index; the caller closes it. */
export function openCheckpoint(path: string): Checkpoint {
  requireRegularFile(path, 'checkpoint');
  return checkpointFormat(path) === 'pytorch' ? PyTorchFile.open(path) : SafetensorsFile.open(path);
}
