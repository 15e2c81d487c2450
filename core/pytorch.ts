// Reading PyTorch checkpoints: the zip files torch.save has written since PyTorch 1.6, without Python
// and without running the pickle inside them.
//
// The zip holds one root folder (named after the file when it was saved; renaming the file does not
// change it):
//
//   <root>/data.pkl    the saved object, pickled; tensors in it point at storages by key
//   <root>/data/<key>  each storage's bytes, little-endian, stored uncompressed
//   <root>/version     the format version
//   <root>/byteorder   "little" or "big" (written since PyTorch 2.1; older files are little-endian)
//
// The pickle is read by core/pickle.ts, which rebuilds tensors and dicts and refuses anything else.
// The object is a state dict ({name: tensor}) or a training checkpoint such as DiT's
// {"model": sd, "ema": sd, "opt": optimizer state, "args": Namespace}; as DiT's own loader does, ditto
// takes "ema" when present, else "model", else "state_dict" (latent-diffusion's released .ckpt files,
// such as the SD VAE's, are PyTorch Lightning checkpoints {"state_dict": sd, ...}), else the dict itself. Everything else in the file (the
// optimizer state, the args) is parsed, so a hostile name anywhere is refused, but never used.
//
// Like SafetensorsFile, `open` reads the index only (the zip directory and the pickle) and each tensor
// is read on demand with positioned reads. A tensor may be a view: it starts at an offset into its
// storage, and its strides may step through the storage in any order (a transposed weight). Views
// are gathered from a window of the storage no larger than twice the tensor (or 64 MiB).

import * as fs from 'node:fs';
import * as os from 'node:os';
import type { Checkpoint, CheckpointTensor } from './checkpoint.js';
import { UserError } from './errors.js';
import { requireRegularFile } from './files.js';
import { describe, Dict, StorageRef, TensorRef, unpickle, type Value } from './pickle.js';
import { bytesToF32, DTYPE_SIZES } from './safetensors.js';
import { numel } from './shape.js';
import { entryStart, readZipIndex, type ZipEntry, type ZipFail } from './zip.js';

export interface PyTorchTensorInfo extends CheckpointTensor {
  name: string;
  /** Elements between neighbours along each dimension, in the storage. */
  stride: number[];
  /** The file position of the tensor's first element. */
  start: number;
}

/** data.pkl is read whole: a state dict's index is kilobytes, a large training checkpoint's a few MiB. */
const MAX_PICKLE_BYTES = 64 * 2 ** 20;
/** A strided view is gathered from windows of at least this many bytes of its storage. */
const WINDOW_BYTES = 64 * 2 ** 20;
/** A single read(2) returns at most about 2 GiB on Linux. */
const READ_CHUNK_BYTES = 1 << 30;

const DAMAGED = 'the file is truncated or damaged; download or save it again';

/** The one-line error for a problem with `path`. */
function problem(path: string, what: string, fix = DAMAGED): UserError {
  return new UserError(`${path}: ${what}: ${fix}`);
}

/** Whether the strides are row-major over the shape (dimensions of size 1 may have any stride). */
function isContiguous(shape: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== expected) return false;
    expected *= shape[d];
  }
  return true;
}

export class PyTorchFile implements Checkpoint {
  /** A .pt file carries no string metadata: the config comes from the shapes and flags, never from pickled args. */
  readonly metadata: Record<string, string> = {};
  private fd: number | null;

  private constructor(
    readonly path: string,
    fd: number,
    /** Every tensor of the state dict, in state-dict order. */
    readonly tensors: Map<string, PyTorchTensorInfo>,
    /** Which entry of a training checkpoint the state dict came from ("ema", "model", "state_dict"), or null for a bare state dict. */
    readonly selected: string | null,
  ) {
    this.fd = fd;
  }

  /** Opens a torch.save zip file and reads its index: the zip directory and data.pkl. The fd stays open. */
  static open(path: string): PyTorchFile {
    if (os.endianness() !== 'LE') throw new Error('PyTorch checkpoint support needs a little-endian host');
    const fileSize = requireRegularFile(path, 'PyTorch checkpoint');
    let fd: number;
    try {
      fd = fs.openSync(path, 'r');
    } catch (e) {
      throw problem(path, `cannot open the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, 'check the path and its permissions');
    }
    try {
      const { tensors, selected } = readIndex(path, fd, fileSize);
      return new PyTorchFile(path, fd, tensors, selected);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): PyTorchTensorInfo {
    const info = this.tensors.get(name);
    if (!info) throw new UserError(`${this.path}: no tensor named ${JSON.stringify(name)}: check that the checkpoint matches the model`);
    return info;
  }

  /** The tensor's elements in row-major order, little-endian, in its stored dtype. */
  readRaw(name: string): Uint8Array {
    const info = this.info(name);
    const size = DTYPE_SIZES[info.dtype];
    const out = new Uint8Array(numel(info.shape) * size);
    if (out.length === 0) return out;
    if (isContiguous(info.shape, info.stride)) this.readInto(info.start, out);
    else this.gather(info, size, out);
    return out;
  }

  /** The tensor as f32. F16 and BF16 widen exactly; F64 and integers beyond 2^24 round. */
  readF32(name: string): Float32Array {
    const info = this.info(name);
    if (info.dtype === 'F32' && isContiguous(info.shape, info.stride)) {
      const out = new Float32Array(numel(info.shape));
      this.readInto(info.start, new Uint8Array(out.buffer));
      return out;
    }
    return bytesToF32(info.dtype, this.readRaw(name).buffer);
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }

  private readInto(position: number, target: Uint8Array): void {
    if (this.fd === null) throw new Error(`${this.path}: read after close()`);
    for (let done = 0; done < target.length; ) {
      const got = fs.readSync(this.fd, target, done, Math.min(target.length - done, READ_CHUNK_BYTES), position + done);
      // The index was checked against the file size at open, so the file shrank since.
      if (got === 0) throw problem(this.path, 'the file ended while reading a tensor');
      done += got;
    }
  }

  /**
   * A strided view, in row-major order. The outer dimensions are walked one index at a time until
   * what remains spans a window small enough to read at once (for a transposed weight, the whole
   * tensor); each window is then copied element by element along the strides.
   */
  private gather(info: PyTorchTensorInfo, size: number, out: Uint8Array): void {
    const { shape, stride } = info;
    const rank = shape.length;
    // span[d]: storage elements covered by one sub-tensor over dimensions d..rank-1; count[d]: its elements.
    const span = new Array<number>(rank + 1).fill(1), count = new Array<number>(rank + 1).fill(1);
    for (let d = rank - 1; d >= 0; d--) {
      span[d] = span[d + 1] + (shape[d] - 1) * stride[d];
      count[d] = count[d + 1] * shape[d];
    }
    let split = 0;
    while (span[split] > 2 * count[split] && span[split] * size > WINDOW_BYTES) split++;
    // Copy in words of up to 4 bytes: an 8-byte element is two 32-bit words, which keeps NaN payloads exact.
    const unit = Math.min(size, 4), words = size / unit;
    const view = (b: ArrayBuffer) => (unit === 1 ? new Uint8Array(b) : unit === 2 ? new Uint16Array(b) : new Uint32Array(b));
    const dst = view(out.buffer as ArrayBuffer);
    const window = new Uint8Array(span[split] * size);
    const src = view(window.buffer);
    const outer = new Array<number>(split).fill(0);
    let base = 0, written = 0;
    for (;;) {
      this.readInto(info.start + base * size, window);
      // An odometer over dimensions split..rank-1, the last one innermost.
      const index = new Array<number>(rank).fill(0);
      let from = 0;
      for (let left = count[split]; left > 0; left--) {
        for (let w = 0; w < words; w++) dst[written * words + w] = src[from * words + w];
        written++;
        let d = rank - 1;
        for (; d >= split; d--) {
          from += stride[d];
          if (++index[d] < shape[d]) break;
          from -= shape[d] * stride[d];
          index[d] = 0;
        }
      }
      // The next window: the same odometer over dimensions 0..split-1.
      let d = split - 1;
      for (; d >= 0; d--) {
        base += stride[d];
        if (++outer[d] < shape[d]) break;
        base -= shape[d] * stride[d];
        outer[d] = 0;
      }
      if (d < 0) return;
    }
  }
}

/** The zip directory, the version and byte order, and the pickle's state dict. */
function readIndex(path: string, fd: number, fileSize: number): { tensors: Map<string, PyTorchTensorInfo>; selected: string | null } {
  const head = Buffer.alloc(4);
  fs.readSync(fd, head, 0, 4, 0);
  if (head[0] === 0x80) {
    // Pickle's PROTO opcode: the pre-1.6 format is a bare pickle stream (starting with a magic number), then raw storages.
    throw problem(path, 'a PyTorch checkpoint in the legacy format (PyTorch before 1.6, or saved with _use_new_zipfile_serialization=False)',
      'ditto reads the zip format: re-save it with PyTorch >= 1.6, where you trust the file: torch.save(torch.load(f), g)');
  }
  if (head.readUInt32LE(0) !== 0x04034b50) {
    throw problem(path, 'not a PyTorch checkpoint (a zip file written by torch.save starts with "PK")', 'check that this is the right file, or download it again');
  }
  const fail: ZipFail = (what, fix) => {
    throw problem(path, what, fix);
  };
  const entries = readZipIndex(fd, fileSize, fail);

  // The root folder is where data.pkl is; there must be exactly one.
  const roots = [...entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n)).map((n) => n.slice(0, -'data.pkl'.length));
  if (roots.length !== 1) {
    fail(roots.length === 0 ? 'a zip file without <folder>/data.pkl' : `a zip file with ${roots.length} data.pkl files`,
      'this is not a checkpoint written by torch.save; save it with torch.save');
  }
  const root = roots[0];
  const small = (name: string): string | null => {
    const entry = entries.get(root + name);
    if (!entry) return null;
    if (entry.size > 64) fail(`${root}${name} is ${entry.size} bytes; torch.save writes a few`);
    return readEntry(fd, fileSize, entry, fail).toString('latin1').trim();
  };
  const version = small('version');
  if (version === null || !/^[0-9]+$/.test(version)) {
    fail(version === null ? `no ${root}version entry` : `${root}version holds ${JSON.stringify(version)}, not a number`, 'this is not a complete torch.save file; save it again');
  }
  const byteorder = small('byteorder');
  if (byteorder !== null && byteorder !== 'little') {
    fail(`its tensors are stored ${JSON.stringify(byteorder)}-endian`, 'ditto reads little-endian checkpoints; load and save it again on a little-endian machine (x86, ARM)');
  }

  const pickle = entries.get(`${root}data.pkl`)!;
  if (pickle.size > MAX_PICKLE_BYTES) {
    fail(`${root}data.pkl is ${pickle.size} bytes, more than the ${MAX_PICKLE_BYTES} a checkpoint's index needs`, 'check that this is a checkpoint');
  }
  /** Where each storage's bytes start in the file, by key. */
  const storages = new Map<string, number>();
  const object = unpickle(readEntry(fd, fileSize, pickle, fail), `${path}: data.pkl`, (key, dtype, count) => {
    const entry = entries.get(`${root}data/${key}`);
    if (!entry) fail(`storage "${key}" has no entry ${root}data/${key} in the zip`);
    const bytes = count * DTYPE_SIZES[dtype];
    if (bytes > entry.size) fail(`storage "${key}" holds ${count} ${dtype} elements (${bytes} bytes) but its entry ${root}data/${key} has ${entry.size} bytes`);
    if (!storages.has(key)) storages.set(key, entryStart(fd, fileSize, entry, fail));
    return new StorageRef(key, dtype, count);
  });

  const { dict, selected } = stateDict(path, object);
  const tensors = new Map<string, PyTorchTensorInfo>();
  for (const [name, value] of dict.items) {
    if (typeof name !== 'string') fail(`the state dict has a key that is ${describe(name)}, not a str`, 'ditto reads state dicts keyed by parameter names');
    if (!(value instanceof TensorRef)) {
      fail(`the state dict's entry ${JSON.stringify(name)} is ${describe(value)}, not a tensor`,
        'ditto reads a state dict ({name: tensor}), or a training checkpoint that holds one as "ema", "model" or "state_dict"');
    }
    const { storage } = value;
    const start = storages.get(storage.key)! + value.offset * DTYPE_SIZES[storage.dtype];
    tensors.set(name, { name, dtype: storage.dtype, shape: [...value.shape], stride: [...value.stride], start });
  }
  return { tensors, selected };
}

/** "ema" when present (as DiT's find_model does), else "model", else "state_dict" (Lightning), else the dict itself. */
function stateDict(path: string, object: Value): { dict: Dict; selected: string | null } {
  if (!(object instanceof Dict)) {
    throw problem(path, `the checkpoint holds ${describe(object)}, not a state dict`, 'save the model\'s weights with torch.save(model.state_dict(), f)');
  }
  for (const key of ['ema', 'model', 'state_dict']) {
    if (!object.items.has(key)) continue;
    const value = object.items.get(key)!;
    if (!(value instanceof Dict)) throw problem(path, `the checkpoint's "${key}" is ${describe(value)}, not a state dict`, 'save the model\'s weights with torch.save(model.state_dict(), f)');
    return { dict: value, selected: key };
  }
  return { dict: object, selected: null };
}

/** A whole (small) entry: data.pkl, version, byteorder. */
function readEntry(fd: number, fileSize: number, entry: ZipEntry, fail: ZipFail): Buffer {
  const start = entryStart(fd, fileSize, entry, fail);
  const buf = Buffer.alloc(entry.size);
  for (let done = 0; done < buf.length; ) {
    const got = fs.readSync(fd, buf, done, buf.length - done, start + done);
    if (got === 0) fail(`the file ended while reading ${entry.name}`);
    done += got;
  }
  return buf;
}
