// Hand-built pickles and zip files for the PyTorch reader's tests, independent of the reader: the
// opcodes byte by byte, and zip records as the specification lays them out (with a zip64 variant,
// which tools/make_pt_fixtures.py cannot make: Python writes zip64 records only past 4 GiB).

import * as fs from 'node:fs';

/** A piece of a pickle: numbers are bytes, strings are latin-1 text (opcode letters, GLOBAL lines). */
export type Part = number | string | Uint8Array | Part[];

export function pickle(...parts: Part[]): Uint8Array {
  const out: number[] = [];
  const add = (p: Part): void => {
    if (typeof p === 'number') out.push(p);
    else if (typeof p === 'string') for (const c of p) out.push(c.charCodeAt(0));
    else for (const q of p) add(q);
  };
  for (const p of parts) add(p);
  return Uint8Array.from(out);
}

/** BINUNICODE: a UTF-8 string with a 32-bit length. */
export function str(s: string): Uint8Array {
  const b = Buffer.from(s, 'utf8');
  const out = Buffer.alloc(5 + b.length);
  out[0] = 0x58;
  out.writeUInt32LE(b.length, 1);
  b.copy(out, 5);
  return out;
}

/** BININT: a signed 32-bit integer. */
export function int(n: number): Uint8Array {
  const out = Buffer.alloc(5);
  out[0] = 0x4a;
  out.writeInt32LE(n, 1);
  return out;
}

export const PROTO2 = [0x80, 2];

/** A tuple of integers: MARK, the BININTs, TUPLE. */
export function ints(values: readonly number[]): Part[] {
  return ['(', ...values.map(int), 't'];
}

/** _rebuild_tensor_v2 over FloatStorage `key` of `numel` elements, as torch.save writes it (protocol 2). */
export function tensor(key: string, numel: number, offset: number, shape: readonly number[], stride: readonly number[], storage = 'FloatStorage'): Part[] {
  return [
    'ctorch._utils\n_rebuild_tensor_v2\n',
    '(', '(', str('storage'), `ctorch\n${storage}\n`, str(key), str('cpu'), int(numel), 't', 'Q',
    int(offset), ints(shape), ints(stride), 0x89, 'ccollections\nOrderedDict\n', ')', 'R', 't', 'R',
  ];
}

/** An OrderedDict of name -> pickled value, as a state dict is written. */
export function stateDict(entries: [string, Part[]][]): Part[] {
  return ['ccollections\nOrderedDict\n', ')', 'R', '(', ...entries.flatMap(([k, v]) => [str(k), ...v]), 'u'];
}

export interface ZipSource {
  name: string;
  /** The entry's bytes; or `size` bytes of zeros (a hole in a sparse file) with `pokes` written into them. */
  data?: Uint8Array;
  size?: number;
  pokes?: [number, Uint8Array][];
}

/**
 * Writes a zip of stored entries to `path`. With `zip64`, every central record keeps its sizes and
 * offset in a zip64 extra field and the archive ends with zip64 records, as writers do past 4 GiB.
 */
export function writeZip(path: string, sources: readonly ZipSource[], opts: { zip64?: boolean } = {}): void {
  const fd = fs.openSync(path, 'w');
  try {
    let at = 0;
    const put = (b: Uint8Array) => {
      fs.writeSync(fd, b, 0, b.length, at);
      at += b.length;
    };
    const central: Buffer[] = [];
    for (const s of sources) {
      const name = Buffer.from(s.name, 'utf8');
      const size = s.data?.length ?? s.size ?? 0;
      const offset = at;
      const local = Buffer.alloc(30);
      local.writeUInt32LE(0x04034b50, 0);
      local.writeUInt16LE(20, 4);
      local.writeUInt32LE(size, 18);
      local.writeUInt32LE(size, 22);
      local.writeUInt16LE(name.length, 26);
      put(local);
      put(name);
      const dataAt = at;
      if (s.data) put(s.data);
      else at += size; // left as a hole
      for (const [pos, bytes] of s.pokes ?? []) fs.writeSync(fd, bytes, 0, bytes.length, dataAt + pos);
      const extra = Buffer.alloc(opts.zip64 ? 28 : 0);
      if (opts.zip64) {
        extra.writeUInt16LE(1, 0);
        extra.writeUInt16LE(24, 2);
        extra.writeBigUInt64LE(BigInt(size), 4);
        extra.writeBigUInt64LE(BigInt(size), 12);
        extra.writeBigUInt64LE(BigInt(offset), 20);
      }
      const record = Buffer.alloc(46);
      record.writeUInt32LE(0x02014b50, 0);
      record.writeUInt16LE(45, 4);
      record.writeUInt16LE(45, 6);
      record.writeUInt32LE(opts.zip64 ? 0xffffffff : size, 20);
      record.writeUInt32LE(opts.zip64 ? 0xffffffff : size, 24);
      record.writeUInt16LE(name.length, 28);
      record.writeUInt16LE(extra.length, 30);
      record.writeUInt32LE(opts.zip64 ? 0xffffffff : offset, 42);
      central.push(record, name, extra);
    }
    const cdAt = at;
    for (const b of central) put(b);
    const cdSize = at - cdAt;
    if (opts.zip64) {
      const record = Buffer.alloc(56);
      record.writeUInt32LE(0x06064b50, 0);
      record.writeBigUInt64LE(44n, 4);
      record.writeBigUInt64LE(BigInt(sources.length), 24);
      record.writeBigUInt64LE(BigInt(sources.length), 32);
      record.writeBigUInt64LE(BigInt(cdSize), 40);
      record.writeBigUInt64LE(BigInt(cdAt), 48);
      const recordAt = at;
      put(record);
      const locator = Buffer.alloc(20);
      locator.writeUInt32LE(0x07064b50, 0);
      locator.writeBigUInt64LE(BigInt(recordAt), 8);
      locator.writeUInt32LE(1, 16);
      put(locator);
    }
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(opts.zip64 ? 0xffff : sources.length, 8);
    end.writeUInt16LE(opts.zip64 ? 0xffff : sources.length, 10);
    end.writeUInt32LE(opts.zip64 ? 0xffffffff : cdSize, 12);
    end.writeUInt32LE(opts.zip64 ? 0xffffffff : cdAt, 16);
    put(end);
  } finally {
    fs.closeSync(fd);
  }
}

/** A torch.save layout around `pkl`: archive/data.pkl, archive/version, and the storages given. */
export function writeCheckpoint(path: string, pkl: Uint8Array, storages: readonly ZipSource[] = [], opts: { zip64?: boolean } = {}): void {
  writeZip(path, [
    { name: 'archive/data.pkl', data: pkl },
    ...storages.map((s) => ({ ...s, name: `archive/data/${s.name}` })),
    { name: 'archive/version', data: Buffer.from('3\n') },
  ], opts);
}
