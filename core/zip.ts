// The index of a zip file whose entries are stored uncompressed, as torch.save writes them.
//
// A zip file ends with the end-of-central-directory record (EOCD), which points at the central
// directory: one record per entry with its name, sizes, compression method and the offset of its
// local header. The local header repeats the name and carries its own "extra" field (torch pads it
// so that tensor data starts 64-byte aligned), and the entry's bytes follow it. Sizes come from the
// central directory: torch writes zeros in the local headers (flag bit 3, sizes after the data).
// Archives past 4 GiB or 65,535 entries keep the large numbers in zip64 records instead.
//
// Nothing is decompressed: a stored entry's bytes are read in place, with positioned reads, by the
// caller. Every number is checked against the file size before it is trusted, so a truncated file or
// one declaring entries larger than itself is refused here.

import * as fs from 'node:fs';
import { UserError } from './errors.js';

export interface ZipEntry {
  name: string;
  /** Where the entry's local header starts; its bytes follow that header (see entryStart). */
  localAt: number;
  size: number;
}

const EOCD_SIGNATURE = 0x06054b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const EOCD_BYTES = 22;
/** The EOCD may be followed by a comment of up to 65,535 bytes. */
const MAX_EOCD_SEARCH = EOCD_BYTES + 0xffff;
/** A checkpoint has one entry per tensor storage; a central directory larger than this is not one. */
const MAX_CENTRAL_BYTES = 64 * 2 ** 20;
const METHOD_STORED = 0;
const FLAG_ENCRYPTED = 1;

export type ZipFail = (problem: string, fix?: string) => never;

/** Reads `length` bytes at `position`; fewer than asked means the file is shorter than its records say. */
function readAt(fd: number, position: number, length: number, fail: ZipFail): Buffer {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const got = fs.readSync(fd, buf, done, length - done, position + done);
    if (got === 0) fail(`the file ends at byte ${position + done}, inside a zip record`);
    done += got;
  }
  return buf;
}

/** A u64 field as a number; zip offsets past 2^53 do not occur in any real file. */
function u64(buf: Buffer, at: number, fail: ZipFail): number {
  const v = buf.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`a zip64 field holds ${v}, larger than any file`);
  return Number(v);
}

/** Finds the central directory: from the EOCD, or from the zip64 EOCD when a field overflowed. */
function centralDirectory(fd: number, fileSize: number, fail: ZipFail): { offset: number; size: number; count: number } {
  const tailLength = Math.min(fileSize, MAX_EOCD_SEARCH);
  const tail = readAt(fd, fileSize - tailLength, tailLength, fail);
  let at = -1;
  for (let i = tailLength - EOCD_BYTES; i >= 0; i--) {
    if (tail.readUInt32LE(i) === EOCD_SIGNATURE && i + EOCD_BYTES + tail.readUInt16LE(i + 20) <= tailLength) {
      at = i;
      break;
    }
  }
  if (at < 0) fail('the zip file has no end record (its last bytes are missing)');
  if (tail.readUInt16LE(at + 4) !== 0 || tail.readUInt16LE(at + 6) !== 0) fail('the zip file spans several disks');
  let count = tail.readUInt16LE(at + 10);
  let size = tail.readUInt32LE(at + 12);
  let offset = tail.readUInt32LE(at + 16);
  if (count === 0xffff || size === 0xffffffff || offset === 0xffffffff) {
    // Zip64: a locator just before the EOCD points at the zip64 EOCD, which holds the 64-bit fields.
    const eocdPosition = fileSize - tailLength + at;
    if (eocdPosition < 20) fail('a zip64 archive without its zip64 locator');
    const locator = readAt(fd, eocdPosition - 20, 20, fail);
    if (locator.readUInt32LE(0) !== ZIP64_LOCATOR_SIGNATURE) fail('a zip64 archive without its zip64 locator');
    const recordAt = u64(locator, 8, fail);
    if (recordAt + 56 > eocdPosition) fail(`the zip64 end record at byte ${recordAt} is past the end of the archive`);
    const record = readAt(fd, recordAt, 56, fail);
    if (record.readUInt32LE(0) !== ZIP64_EOCD_SIGNATURE) fail(`no zip64 end record at byte ${recordAt}`);
    count = u64(record, 32, fail);
    size = u64(record, 40, fail);
    offset = u64(record, 48, fail);
  }
  if (offset + size > fileSize) fail(`the central directory (bytes ${offset}..${offset + size}) is past the end of the file (${fileSize} bytes)`);
  if (size > MAX_CENTRAL_BYTES) fail(`the central directory takes ${size} bytes, more than the ${MAX_CENTRAL_BYTES} a checkpoint needs`);
  return { offset, size, count };
}

/**
 * Every entry of the zip file open at `fd`, by name. Only stored (uncompressed, unencrypted) entries
 * are accepted, each lying whole inside the file; `fail` reports a problem and throws.
 */
export function readZipIndex(fd: number, fileSize: number, fail: ZipFail): Map<string, ZipEntry> {
  const cd = centralDirectory(fd, fileSize, fail);
  const bytes = readAt(fd, cd.offset, cd.size, fail);
  const entries = new Map<string, ZipEntry>();
  const decoder = new TextDecoder('utf-8');
  let at = 0;
  for (let n = 0; n < cd.count; n++) {
    if (at + 46 > bytes.length || bytes.readUInt32LE(at) !== CENTRAL_SIGNATURE) {
      fail(`central directory record ${n} of ${cd.count} is missing or damaged`);
    }
    const flags = bytes.readUInt16LE(at + 8);
    const method = bytes.readUInt16LE(at + 10);
    let compressed = bytes.readUInt32LE(at + 20);
    let size = bytes.readUInt32LE(at + 24);
    const nameLength = bytes.readUInt16LE(at + 28);
    const extraLength = bytes.readUInt16LE(at + 30);
    const commentLength = bytes.readUInt16LE(at + 32);
    let localAt = bytes.readUInt32LE(at + 42);
    const end = at + 46 + nameLength + extraLength + commentLength;
    if (end > bytes.length) fail(`central directory record ${n} runs past the directory`);
    const name = decoder.decode(bytes.subarray(at + 46, at + 46 + nameLength));
    // Zip64 extended information (header id 1): the 64-bit values of the fields that read 0xffffffff, in this order.
    const extra = bytes.subarray(at + 46 + nameLength, at + 46 + nameLength + extraLength);
    for (let e = 0; e + 4 <= extra.length; ) {
      const id = extra.readUInt16LE(e), length = extra.readUInt16LE(e + 2);
      if (id === 1) {
        let f = e + 4;
        const next = (): number => {
          if (f + 8 > e + 4 + length || f + 8 > extra.length) fail(`zip entry ${JSON.stringify(name)}: its zip64 field is too short`);
          const v = u64(extra, f, fail);
          f += 8;
          return v;
        };
        if (size === 0xffffffff) size = next();
        if (compressed === 0xffffffff) compressed = next();
        if (localAt === 0xffffffff) localAt = next();
      }
      e += 4 + length;
    }
    const where = `zip entry ${JSON.stringify(name)}`;
    if (flags & FLAG_ENCRYPTED) fail(`${where} is encrypted`, 're-save the checkpoint with torch.save');
    if (method !== METHOD_STORED) {
      fail(`${where} is compressed (method ${method}), but torch.save stores entries uncompressed`, 'the file was re-zipped by another tool; re-save it with torch.save, or unzip and zip it again with "zip -0"');
    }
    if (compressed !== size) fail(`${where} is stored but its sizes disagree (${compressed} and ${size} bytes)`);
    if (entries.has(name)) fail(`the zip file holds ${where} twice`);
    // The local header's own length is known only when it is read (entryStart); this bound needs none.
    if (localAt + 30 + size > fileSize) {
      fail(`${where} declares ${size} bytes at byte ${localAt}, past the end of the file (${fileSize} bytes)`);
    }
    entries.set(name, { name, localAt, size });
    at = end;
  }
  return entries;
}

/**
 * The file position of an entry's first byte, from its local header. Read only for the entries a
 * caller opens, so that a directory of a million entries costs one read, not a million.
 */
export function entryStart(fd: number, fileSize: number, entry: ZipEntry, fail: ZipFail): number {
  const where = `zip entry ${JSON.stringify(entry.name)}`;
  const local = readAt(fd, entry.localAt, 30, fail);
  if (local.readUInt32LE(0) !== LOCAL_SIGNATURE) fail(`${where}: no local header at byte ${entry.localAt}`);
  const start = entry.localAt + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
  if (start + entry.size > fileSize) fail(`${where} declares ${entry.size} bytes at byte ${start}, past the end of the file (${fileSize} bytes)`);
  return start;
}
