// Reading and writing the safetensors format (https://github.com/huggingface/safetensors).
//
// A file is: an 8-byte little-endian u64 N, then N bytes of UTF-8 JSON (the header), then the data.
// The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]}, with offsets
// counted from the start of the data; an optional "__metadata__" entry maps strings to strings.
//
// Checkpoints are large, so `SafetensorsFile.open` reads only the header and every tensor is read
// on demand with positioned reads: the file never sits in memory as a whole. Because a checkpoint
// usually comes from the internet, the header is checked completely before anything is trusted,
// and every problem is reported as a one-line UserError that names the file and says what to do.
// The reader sees the bytes through a ByteSource, so the same checks serve a file on disk (Node) and a
// buffer fetched by a web page (`SafetensorsFile.fromBytes`).

import { UserError } from './errors.js';
import { openFileSource, writeFileAtomic } from './files.js';
import { numel } from './shape.js';

export type SafeDType =
  | 'F64' | 'F32' | 'F16' | 'BF16'
  | 'I64' | 'I32' | 'I16' | 'I8'
  | 'U64' | 'U32' | 'U16' | 'U8'
  | 'BOOL';

/** Bytes per element of each dtype this module understands. */
export const DTYPE_SIZES: Readonly<Record<SafeDType, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2,
  I64: 8, I32: 4, I16: 2, I8: 1,
  U64: 8, U32: 4, U16: 2, U8: 1,
  BOOL: 1,
};

const FLOAT_DTYPES: ReadonlySet<SafeDType> = new Set(['F64', 'F32', 'F16', 'BF16']);

/** Where a tensor lives. `begin` and `end` are byte offsets from the start of the data section. */
export interface TensorInfo {
  name: string;
  dtype: SafeDType;
  shape: number[];
  begin: number;
  end: number;
}

/** A header larger than this is refused: real headers are kilobytes, and we read it whole. */
const MAX_HEADER_BYTES = 100_000_000;

/** Large tensors are read in chunks: a single read(2) returns at most about 2 GiB on Linux. */
const READ_CHUNK_BYTES = 1 << 30;

const CORRUPT = 'the file is corrupt or not a safetensors file; download or export it again';
const TRUNCATED = 'the file is truncated or not a safetensors file; download it again';

function malformed(path: string, problem: string, fix = CORRUPT): UserError {
  // JSON.stringify quotes names and escapes any newline in them, which keeps the message one line.
  return new UserError(`${path}: ${problem}: ${fix}`.replace(/\s*\n\s*/g, ' '));
}

/** Positioned reads of a checkpoint's bytes, wherever they are: a file (core/files.ts) or memory. */
export interface ByteSource {
  readonly size: number;
  /** Reads up to target.length bytes at `position`; returns how many it read (0 at the end). */
  read(target: Uint8Array, position: number): number;
  close(): void;
}

/** Bytes already in memory (a fetched checkpoint) as a ByteSource. */
export function memorySource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    read(target, position) {
      const part = bytes.subarray(position, Math.min(bytes.length, position + target.length));
      target.set(part);
      return part.length;
    },
    close() {},
  };
}

/** Typed-array views read the host's byte order; safetensors is little-endian. */
function requireLittleEndianHost(): void {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('safetensors support needs a little-endian host');
}

export class SafetensorsFile {
  private source: ByteSource | null;

  private constructor(
    readonly path: string,
    source: ByteSource,
    /** Absolute file position of the first data byte: 8 + header length. */
    private readonly dataStart: number,
    readonly metadata: Record<string, string>,
    /** Every tensor, in header order. */
    readonly tensors: Map<string, TensorInfo>,
  ) {
    this.source = source;
  }

  /** Open a file and validate its header and layout. Only the header is read; the file stays open. */
  static open(path: string): SafetensorsFile {
    requireLittleEndianHost();
    let source: ByteSource;
    try {
      source = openFileSource(path, 'safetensors file');
    } catch (err) {
      if (err instanceof UserError) throw err;
      throw malformed(path, `cannot open the file (${(err as Error).message})`, 'check the path');
    }
    return SafetensorsFile.read(path, source);
  }

  /** A safetensors file held in memory (a web page's fetched checkpoint); `name` stands for its path in messages. */
  static fromBytes(name: string, bytes: Uint8Array): SafetensorsFile {
    requireLittleEndianHost();
    return SafetensorsFile.read(name, memorySource(bytes));
  }

  private static read(path: string, source: ByteSource): SafetensorsFile {
    try {
      const { dataStart, metadata, tensors } = readHeader(path, source);
      return new SafetensorsFile(path, source, dataStart, metadata, tensors);
    } catch (err) {
      source.close();
      throw err;
    }
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): TensorInfo {
    const info = this.tensors.get(name);
    if (info) return info;
    const names = [...this.tensors.keys()];
    const sample = names.slice(0, 5).map((n) => JSON.stringify(n)).join(', ');
    const more = names.length > 5 ? ', ...' : '';
    throw new UserError(
      `${this.path}: no tensor named ${JSON.stringify(name)} (the file has ${names.length}: ${sample}${more}): ` +
        'check that the checkpoint matches the model',
    );
  }

  /** The tensor's bytes, exactly as stored (little-endian). */
  readRaw(name: string): Uint8Array {
    const info = this.info(name);
    const bytes = new Uint8Array(info.end - info.begin);
    this.readInto(info, bytes);
    return bytes;
  }

  /** The tensor as f32. F16, BF16 and integers up to 2^24 convert exactly; F64 and larger integers round. */
  readF32(name: string): Float32Array {
    const info = this.info(name);
    const n = numel(info.shape);
    if (info.dtype === 'F32') {
      // Read straight into the result: no intermediate copy of the tensor.
      const out = new Float32Array(n);
      this.readInto(info, new Uint8Array(out.buffer));
      return out;
    }
    // A fresh buffer starts at offset 0, so typed views over it are aligned whatever the file's layout.
    return bytesToF32(info.dtype, this.readRaw(name).buffer);
  }

  /** The tensor as i32. Integer and bool dtypes only; values must fit in 32 bits. */
  readI32(name: string): Int32Array {
    const info = this.info(name);
    const n = numel(info.shape);
    if (FLOAT_DTYPES.has(info.dtype)) {
      throw malformed(
        this.path,
        `tensor ${JSON.stringify(name)} has dtype ${info.dtype}, but integers were expected`,
        'check that the checkpoint matches the model',
      );
    }
    if (info.dtype === 'I32') {
      const out = new Int32Array(n);
      this.readInto(info, new Uint8Array(out.buffer));
      return out;
    }
    const raw = this.readRaw(name).buffer;
    const wide =
      info.dtype === 'I64' ? new BigInt64Array(raw)
      : info.dtype === 'U64' ? new BigUint64Array(raw)
      : info.dtype === 'BOOL' ? Uint8Array.from(new Uint8Array(raw), (b) => (b ? 1 : 0))
      : intView(info.dtype, raw);
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const v = Number(wide[i]); // exact for i32-range values, and out-of-range ones stay out of range
      if (v < -0x8000_0000 || v > 0x7fff_ffff) {
        throw malformed(
          this.path,
          `tensor ${JSON.stringify(name)} (${info.dtype}) holds ${wide[i]} at index ${i}, outside the int32 range`,
          'this tensor cannot be used as 32-bit integers; re-export it with values that fit',
        );
      }
      out[i] = v;
    }
    return out;
  }

  close(): void {
    this.source?.close();
    this.source = null;
  }

  /** Positioned reads of exactly this tensor's bytes into `target` (of length end - begin). */
  private readInto(info: TensorInfo, target: Uint8Array): void {
    if (this.source === null) throw new Error(`${this.path}: read after close()`);
    const start = this.dataStart + info.begin;
    let done = 0;
    while (done < target.length) {
      const want = Math.min(target.length - done, READ_CHUNK_BYTES);
      const got = this.source.read(target.subarray(done, done + want), start + done);
      if (got === 0) {
        // The layout was checked against the file size at open, so the file shrank since.
        throw malformed(this.path, `the file ended while reading tensor ${JSON.stringify(info.name)}`, TRUNCATED);
      }
      done += got;
    }
  }
}

/** Little-endian elements of `dtype` (in a buffer of their own, so aligned) as f32; F64 and large integers round. */
export function bytesToF32(dtype: SafeDType, raw: ArrayBufferLike): Float32Array {
  switch (dtype) {
    case 'F32': return new Float32Array(raw);
    case 'F16': return f16ToF32(new Uint16Array(raw));
    case 'BF16': return bf16ToF32(new Uint16Array(raw));
    case 'F64': return Float32Array.from(new Float64Array(raw)); // rounds to nearest even
    case 'I64': return bigIntsToF32(new BigInt64Array(raw));
    case 'U64': return bigIntsToF32(new BigUint64Array(raw));
    case 'BOOL': return Float32Array.from(new Uint8Array(raw), (b) => (b ? 1 : 0));
    default: return Float32Array.from(intView(dtype, raw));
  }
}

/** Integer dtypes of at most 32 bits, as a typed view over an aligned buffer. */
function intView(dtype: SafeDType, raw: ArrayBufferLike): Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array {
  switch (dtype) {
    case 'I8': return new Int8Array(raw);
    case 'U8': return new Uint8Array(raw);
    case 'I16': return new Int16Array(raw);
    case 'U16': return new Uint16Array(raw);
    case 'I32': return new Int32Array(raw);
    case 'U32': return new Uint32Array(raw);
    default: throw new Error(`not a small integer dtype: ${dtype}`);
  }
}

function bigIntsToF32(src: BigInt64Array | BigUint64Array): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = Number(src[i]);
  return out;
}

// ---- Header parsing and validation -------------------------------------------------------------

interface Header {
  dataStart: number;
  metadata: Record<string, string>;
  tensors: Map<string, TensorInfo>;
}

function readHeader(path: string, source: ByteSource): Header {
  const fileSize = source.size;
  if (fileSize === 0) throw malformed(path, 'the file is empty', TRUNCATED);
  if (fileSize < 8) {
    throw malformed(path, `the file is ${fileSize} bytes, too short for the 8-byte header length`, TRUNCATED);
  }

  const lengthBytes = new Uint8Array(8);
  source.read(lengthBytes, 0);
  const headerLength = new DataView(lengthBytes.buffer).getBigUint64(0, true);
  if (headerLength > BigInt(fileSize - 8)) {
    throw malformed(path, `header length ${headerLength} is past the end of the file (${fileSize} bytes)`, TRUNCATED);
  }
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    throw malformed(path, `header length ${headerLength} is over the limit of ${MAX_HEADER_BYTES} bytes`);
  }
  const headerBytes = new Uint8Array(Number(headerLength));
  if (source.read(headerBytes, 8) !== headerBytes.length) {
    throw malformed(path, 'the header could not be read in full', TRUNCATED);
  }

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw malformed(path, 'the header is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw malformed(path, `the header is not valid JSON (${(err as Error).message})`);
  }
  if (!isPlainObject(json)) throw malformed(path, 'the header is not a JSON object');

  // JSON.parse keeps only the last of duplicate keys, and it orders integer-like keys ("0", "1")
  // first, so the keys and their order come from the raw text instead.
  const keys = topLevelKeys(text);
  const seen = new Set<string>();
  for (const key of keys) {
    if (seen.has(key)) throw malformed(path, `the header names ${JSON.stringify(key)} twice`);
    seen.add(key);
  }

  let metadata: Record<string, string> = {};
  const tensors = new Map<string, TensorInfo>();
  for (const key of keys) {
    const value = json[key];
    if (key === '__metadata__') metadata = parseMetadata(path, value);
    else tensors.set(key, parseEntry(path, key, value));
  }

  const dataStart = 8 + Number(headerLength);
  checkLayout(path, [...tensors.values()], fileSize - dataStart);
  return { dataStart, metadata, tensors };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function parseMetadata(path: string, value: unknown): Record<string, string> {
  if (!isPlainObject(value)) throw malformed(path, '__metadata__ is not an object of strings');
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') {
      throw malformed(path, `__metadata__ must map strings to strings, but ${JSON.stringify(k)} is ${describe(v)}`);
    }
  }
  return value as Record<string, string>;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

function parseEntry(path: string, name: string, entry: unknown): TensorInfo {
  const where = `tensor ${JSON.stringify(name)}`;
  if (!isPlainObject(entry)) {
    throw malformed(path, `${where} is ${describe(entry)}, not an object with dtype, shape and data_offsets`);
  }
  const { dtype, shape, data_offsets: offsets } = entry;
  if (dtype === undefined || shape === undefined || offsets === undefined) {
    const missing = ['dtype', 'shape', 'data_offsets'].filter((k) => entry[k] === undefined);
    throw malformed(path, `${where} has no ${missing.join(' or ')}`);
  }
  if (typeof dtype !== 'string') throw malformed(path, `${where} has a dtype that is ${describe(dtype)}, not a string`);
  if (!Object.hasOwn(DTYPE_SIZES, dtype)) {
    throw malformed(
      path,
      `${where} has unsupported dtype ${JSON.stringify(dtype)}`,
      `convert the checkpoint to one of ${Object.keys(DTYPE_SIZES).join(', ')}`,
    );
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw malformed(path, `${where} has shape ${JSON.stringify(shape)}, not a list of non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0] > offsets[1]) {
    throw malformed(
      path,
      `${where} has data_offsets ${JSON.stringify(offsets)}, not two non-negative integers [begin, end] with begin <= end`,
    );
  }
  const info: TensorInfo = { name, dtype: dtype as SafeDType, shape, begin: offsets[0], end: offsets[1] };
  const expected = numel(shape) * DTYPE_SIZES[info.dtype];
  if (info.end - info.begin !== expected) {
    throw malformed(
      path,
      `${where} (${dtype}, shape [${shape.join(', ')}]) should take ${expected} bytes but data_offsets give ${info.end - info.begin}`,
    );
  }
  return info;
}

/** The tensors must tile the data section exactly: from byte 0, no gaps, no overlaps, nothing after. */
function checkLayout(path: string, tensors: TensorInfo[], dataSize: number): void {
  const sorted = [...tensors].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0; // where the next tensor must begin
  let previous: TensorInfo | null = null;
  for (const t of sorted) {
    const name = JSON.stringify(t.name);
    if (t.begin > expected) {
      if (previous === null) throw malformed(path, `the data starts at byte ${t.begin} (tensor ${name}), not at byte 0`);
      throw malformed(
        path,
        `${byteCount(t.begin - expected)} unused between tensors ${JSON.stringify(previous.name)} (ends at ${expected}) and ${name} (begins at ${t.begin})`,
      );
    }
    if (t.begin < expected) {
      throw malformed(
        path,
        `tensors ${JSON.stringify(previous!.name)} (bytes ${previous!.begin}..${previous!.end}) and ${name} (bytes ${t.begin}..${t.end}) overlap`,
      );
    }
    expected = t.end;
    previous = t;
  }
  if (expected > dataSize) {
    throw malformed(path, `the tensors need ${expected} bytes of data but the file holds ${dataSize}`, TRUNCATED);
  }
  if (expected < dataSize) {
    throw malformed(path, `${byteCount(dataSize - expected)} left over after the last tensor`);
  }
}

function byteCount(n: number): string {
  return n === 1 ? '1 byte' : `${n} bytes`;
}

/**
 * The keys of the top-level object in `text`, in order and with duplicates. Assumes `text` is valid
 * JSON whose top level is an object (JSON.parse has accepted it), so it only has to follow nesting
 * and skip strings: at depth 1, a string followed by ':' is a key.
 */
function topLevelKeys(text: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      const start = i++;
      while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1; // skip escapes such as \" and \\
      i++;
      if (depth === 1) {
        let j = i;
        while (' \t\n\r'.includes(text[j])) j++;
        // JSON.parse decodes escapes, so "a\u0022b" and "a\"b" come out as the same key.
        if (text[j] === ':') keys.push(JSON.parse(text.slice(start, i)) as string);
      }
      continue;
    }
    if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    i++;
  }
  return keys;
}

// ---- Float conversions ---------------------------------------------------------------------------

/** f32 bit patterns of all 65536 f16 values, built on first use. */
let f16Table: Uint32Array | null = null;

/** f16 bits to f32 bits. Exact: every f16 (subnormals, infinities, NaN payloads) is an f32. */
function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >> 10) & 0x1f;
  let frac = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f80_0000 | (frac << 13)) >>> 0; // inf or NaN
  if (exp !== 0) return (sign | ((exp - 15 + 127) << 23) | (frac << 13)) >>> 0;
  if (frac === 0) return sign >>> 0; // signed zero
  // Subnormal f16: 0.frac * 2^-14. Shift the leading 1 into the implicit position; f32 has the range.
  let e = -14;
  while ((frac & 0x400) === 0) {
    frac <<= 1;
    e--;
  }
  return (sign | ((e + 127) << 23) | ((frac & 0x3ff) << 13)) >>> 0;
}

export function f16ToF32(src: Uint16Array): Float32Array {
  if (!f16Table) {
    f16Table = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16BitsToF32Bits(h);
  }
  const out = new Float32Array(src.length);
  const bits = new Uint32Array(out.buffer); // write bit patterns, so NaN payloads survive
  for (let i = 0; i < src.length; i++) bits[i] = f16Table[src[i]];
  return out;
}

/** BF16 is the top half of an f32, so widening is a shift. */
export function bf16ToF32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
  return out;
}

/** f32 bits to f16 bits, rounding to nearest, ties to even. Overflow gives infinity; NaN stays NaN. */
function f32BitsToF16Bits(b: number): number {
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7f_ffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant === 0 ? 0 : (mant >>> 13) || 0x200); // keep a NaN a NaN
  const e = exp - 127 + 15; // f16 biased exponent
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // An f16 subnormal (or zero): the f16 value is (1.mant * 2^(e-15)) / 2^-24 units.
    if (e < -10) return sign; // below half the smallest subnormal: rounds to zero
    const full = mant | 0x80_0000; // the implicit leading 1
    const shift = 14 - e;
    return sign | roundShift(full, shift);
  }
  // Rounding up may carry into the exponent, which is right (up to infinity at the top).
  return sign | roundShift((e << 23) | mant, 13);
}

/** x >> shift, rounded to nearest, ties to even. */
function roundShift(x: number, shift: number): number {
  const kept = x >>> shift;
  const rest = x & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return rest > half || (rest === half && (kept & 1) === 1) ? kept + 1 : kept;
}

export function f32ToF16(src: Float32Array): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length); // f32 data is 4-byte aligned
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f32BitsToF16Bits(bits[i]);
  return out;
}

// ---- Writing -------------------------------------------------------------------------------------

export interface TensorToWrite {
  dtype: 'F32' | 'F16' | 'I64' | 'I32';
  shape: readonly number[];
  /** Row-major values. Numbers for F16 are rounded to f32 first. */
  data: Float32Array | Int32Array | BigInt64Array | readonly number[];
}

/**
 * A tensor as its little-endian bytes in any dtype, asked for only while the file is written: a
 * converted checkpoint passes through memory one tensor at a time.
 */
export interface RawTensorToWrite {
  dtype: SafeDType;
  shape: readonly number[];
  bytes: () => Uint8Array;
}

/**
 * Write a safetensors file. Tensors are stored in the record's key order (a Map keeps any order; a
 * record moves integer-like names first), the header is padded with spaces to a multiple of 8 bytes
 * so the data is aligned, and the file appears only when complete (written beside it, then renamed).
 * Bad arguments are programming errors and throw Error.
 */
export function writeSafetensors(
  path: string,
  tensors: Record<string, TensorToWrite | RawTensorToWrite> | ReadonlyMap<string, TensorToWrite | RawTensorToWrite>,
  metadata?: Record<string, string>,
): void {
  requireLittleEndianHost();
  const entries: string[] = [];
  const blobs: (() => Uint8Array)[] = [];
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new Error(`writeSafetensors: metadata ${JSON.stringify(k)} is not a string`);
    }
    entries.push(`"__metadata__":${JSON.stringify(metadata)}`);
  }
  let offset = 0;
  const list: Iterable<[string, TensorToWrite | RawTensorToWrite]> = tensors instanceof Map ? tensors : Object.entries(tensors);
  for (const [name, tensor] of list) {
    if (name === '__metadata__') throw new Error('writeSafetensors: "__metadata__" cannot name a tensor');
    let length: number;
    if ('bytes' in tensor) {
      length = numel(tensor.shape) * DTYPE_SIZES[tensor.dtype];
      blobs.push(() => {
        const bytes = tensor.bytes();
        if (bytes.length !== length) throw new Error(`writeSafetensors: tensor ${JSON.stringify(name)}: ${bytes.length} bytes, expected ${length}`);
        return bytes;
      });
    } else {
      const bytes = encodeTensor(name, tensor);
      length = bytes.length;
      blobs.push(() => bytes);
    }
    const entry = { dtype: tensor.dtype, shape: [...tensor.shape], data_offsets: [offset, offset + length] };
    entries.push(`${JSON.stringify(name)}:${JSON.stringify(entry)}`);
    offset += length;
  }
  // Built by hand rather than with JSON.stringify(object), which would move integer-like names first.
  const json = Buffer.from(`{${entries.join(',')}}`, 'utf8');
  const header = Buffer.alloc(Math.ceil(json.length / 8) * 8, ' ');
  json.copy(header);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));

  writeFileAtomic(path, (function* () {
    yield length;
    yield header;
    for (const blob of blobs) yield blob();
  })());
}

/** The tensor's little-endian bytes. Data already in the right typed array is used without a copy. */
function encodeTensor(name: string, t: TensorToWrite): Uint8Array {
  const fail = (problem: string) => new Error(`writeSafetensors: tensor ${JSON.stringify(name)}: ${problem}`);
  if (t.shape.some((d) => !isCount(d))) throw fail(`bad shape [${t.shape.join(', ')}]`);
  const n = numel(t.shape);
  if (t.data.length !== n) throw fail(`shape [${t.shape.join(', ')}] needs ${n} values, got ${t.data.length}`);
  const { data } = t;
  const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  switch (t.dtype) {
    case 'F32':
      if (data instanceof Float32Array) return bytesOf(data);
      return bytesOf(Float32Array.from(data as ArrayLike<number | bigint>, Number));
    case 'F16': {
      const f32 = data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number | bigint>, Number);
      return bytesOf(f32ToF16(f32));
    }
    case 'I32': {
      if (data instanceof Int32Array) return bytesOf(data);
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = Number(data[i]);
        if (!Number.isInteger(v) || v < -0x8000_0000 || v > 0x7fff_ffff) throw fail(`value ${data[i]} at ${i} is not an int32`);
        out[i] = v;
      }
      return bytesOf(out);
    }
    case 'I64': {
      if (data instanceof BigInt64Array) return bytesOf(data);
      const out = new BigInt64Array(n);
      for (let i = 0; i < n; i++) {
        const v = data[i];
        if (typeof v !== 'bigint' && !Number.isSafeInteger(v)) throw fail(`value ${v} at ${i} is not an exact integer`);
        out[i] = BigInt(v);
      }
      return bytesOf(out);
    }
    default:
      throw fail(`cannot write dtype ${JSON.stringify(t.dtype)}`);
  }
}


// ---- Convenience -------------------------------------------------------------------------------

/** Every tensor of a (small) file as f32, in header order. */
export function readSafetensorsF32(path: string): {
  metadata: Record<string, string>;
  tensors: Map<string, { shape: number[]; data: Float32Array }>;
} {
  const file = SafetensorsFile.open(path);
  try {
    const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const [name, info] of file.tensors) tensors.set(name, { shape: info.shape, data: file.readF32(name) });
    return { metadata: file.metadata, tensors };
  } finally {
    file.close();
  }
}
