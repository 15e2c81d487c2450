import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UserError } from '../../core/errors.js';
import {
  SafetensorsFile,
  f16ToF32,
  f32ToF16,
  readSafetensorsF32,
  writeSafetensors,
} from '../../core/safetensors.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ditto-safetensors-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

let fileCount = 0;
function tempPath(): string {
  return path.join(dir, `t${fileCount++}.safetensors`);
}

/**
 * A safetensors file built byte by byte, independent of the writer: the u64 header length, the
 * header exactly as given (no padding), then the data.
 */
function fileBytes(header: string | Uint8Array, data: Uint8Array | number[] = []): Buffer {
  const json = typeof header === 'string' ? Buffer.from(header, 'utf8') : Buffer.from(header);
  const out = Buffer.alloc(8 + json.length + data.length);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  Buffer.from(data).copy(out, 8 + json.length);
  return out;
}

function saveBytes(bytes: Uint8Array): string {
  const p = tempPath();
  fs.writeFileSync(p, bytes);
  return p;
}

/** Runs `fn` and checks that it throws a one-line UserError containing every fragment. */
function expectUserError(fn: () => unknown, ...fragments: string[]): void {
  let error: unknown = null;
  try {
    fn();
  } catch (err) {
    error = err;
  }
  assert.instance(error, UserError, 'expected a UserError');
  const message = (error as Error).message;
  assert.not.ok(message.includes('\n'), `message is not one line: ${message}`);
  for (const f of fragments) assert.ok(message.includes(f), `expected ${JSON.stringify(f)} in: ${message}`);
}

/** Opening these bytes must fail with a message naming the file and containing the fragments. */
function expectRefused(bytes: Uint8Array, ...fragments: string[]): void {
  const p = saveBytes(bytes);
  expectUserError(() => SafetensorsFile.open(p), p, ...fragments);
}

/** Object.is tells -0 from 0 and accepts NaN === NaN, which exact float checks need. */
function assertSameFloats(actual: ArrayLike<number>, expected: number[]): void {
  assert.is(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Object.is(actual[i], expected[i]), `index ${i}: got ${actual[i]}, expected ${expected[i]}`);
  }
}

function u16Bytes(values: number[]): Uint8Array {
  const view = new DataView(new ArrayBuffer(values.length * 2));
  values.forEach((v, i) => view.setUint16(i * 2, v, true));
  return new Uint8Array(view.buffer);
}

/** A valid entry for one F32 value at [begin, begin + 4). */
const f32At = (begin: number) => `{"dtype":"F32","shape":[1],"data_offsets":[${begin},${begin + 4}]}`;
const zeros = (n: number) => new Array<number>(n).fill(0);

// ---- Writing and reading back -------------------------------------------------------------------

test('round-trips every writable dtype, the metadata and the tensor order', () => {
  const p = tempPath();
  writeSafetensors(
    p,
    {
      weight: { dtype: 'F32', shape: [2, 3], data: new Float32Array([1, -2, 3.5, 0.1, -0, 1e30]) },
      half: { dtype: 'F16', shape: [4], data: [0.5, -65504, 2 ** -24, 3.140625] },
      ids: { dtype: 'I32', shape: [3], data: new Int32Array([-(2 ** 31), 0, 2 ** 31 - 1]) },
      steps: { dtype: 'I64', shape: [2], data: new BigInt64Array([-3n, 2n ** 40n]) },
      counts: { dtype: 'I64', shape: [2], data: [7, -8] },
      empty: { dtype: 'F32', shape: [0, 5], data: [] },
    },
    { format: 'pt', note: 'ünïcode "quoted"' },
  );
  const file = SafetensorsFile.open(p);
  try {
    assert.equal(file.metadata, { format: 'pt', note: 'ünïcode "quoted"' });
    assert.equal([...file.tensors.keys()], ['weight', 'half', 'ids', 'steps', 'counts', 'empty']);
    assert.equal(file.info('weight'), { name: 'weight', dtype: 'F32', shape: [2, 3], begin: 0, end: 24 });
    assertSameFloats(file.readF32('weight'), [1, -2, 3.5, Math.fround(0.1), -0, Math.fround(1e30)]);
    assertSameFloats(file.readF32('half'), [0.5, -65504, 2 ** -24, 3.140625]);
    assert.equal([...file.readI32('ids')], [-(2 ** 31), 0, 2 ** 31 - 1]);
    assertSameFloats(file.readF32('steps'), [-3, 2 ** 40]);
    assert.equal([...file.readI32('counts')], [7, -8]);
    assert.equal(file.readF32('empty').length, 0);
    assert.equal([...file.readRaw('ids')], [0, 0, 0, 0x80, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f]);
  } finally {
    file.close();
  }
});

test('the writer pads the header to a multiple of 8 bytes', () => {
  const p = tempPath();
  writeSafetensors(p, { a: { dtype: 'F32', shape: [1], data: [1] } });
  const headerLength = Number(fs.readFileSync(p).readBigUInt64LE(0));
  assert.is(headerLength % 8, 0);
});

test('the writer rejects data that does not match the shape or the dtype', () => {
  const p = tempPath();
  assert.throws(() => writeSafetensors(p, { a: { dtype: 'F32', shape: [2, 2], data: [1, 2, 3] } }), /needs 4 values, got 3/);
  assert.throws(() => writeSafetensors(p, { a: { dtype: 'I32', shape: [1], data: [1.5] } }), /not an int32/);
  assert.throws(() => writeSafetensors(p, { a: { dtype: 'I64', shape: [1], data: [2 ** 60] } }), /not an exact integer/);
  assert.not.ok(fs.existsSync(p), 'a failed write must leave no file behind');
});

test('readSafetensorsF32 reads every tensor as f32', () => {
  const p = tempPath();
  writeSafetensors(p, {
    a: { dtype: 'F16', shape: [2], data: [1, 2] },
    b: { dtype: 'I32', shape: [1, 1], data: [9] },
  }, { k: 'v' });
  const { metadata, tensors } = readSafetensorsF32(p);
  assert.equal(metadata, { k: 'v' });
  assert.equal([...tensors.keys()], ['a', 'b']);
  assert.equal(tensors.get('b')!.shape, [1, 1]);
  assertSameFloats(tensors.get('a')!.data, [1, 2]);
  assertSameFloats(tensors.get('b')!.data, [9]);
});

// ---- Float conversions -------------------------------------------------------------------------

test('F16 decodes exactly, including subnormals, infinities and NaN', () => {
  const bits = [0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x0400, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0x3555];
  const expected = [
    1, -2, 65504,
    2 ** -24, // smallest subnormal
    1023 * 2 ** -24, // largest subnormal
    2 ** -14, // smallest normal
    -0, Infinity, -Infinity, NaN,
    (1 + 0x155 / 1024) * 2 ** -2, // 0.333251953125: exponent 13 - 15, fraction 0x155
  ];
  const p = saveBytes(fileBytes(`{"h":{"dtype":"F16","shape":[${bits.length}],"data_offsets":[0,${bits.length * 2}]}}`, u16Bytes(bits)));
  const file = SafetensorsFile.open(p);
  assertSameFloats(file.readF32('h'), expected);
  file.close();
});

test('BF16 decodes exactly: it is the top half of an f32', () => {
  const bits = [0x3f80, 0xc040, 0x4049, 0x7f80, 0x0001, 0x7fc0];
  const expected = [1, -3, 3.140625, Infinity, 2 ** -133 /* f32 subnormal 0x00010000 */, NaN];
  const p = saveBytes(fileBytes(`{"b":{"dtype":"BF16","shape":[${bits.length}],"data_offsets":[0,${bits.length * 2}]}}`, u16Bytes(bits)));
  const file = SafetensorsFile.open(p);
  assertSameFloats(file.readF32('b'), expected);
  file.close();
});

test('the writer rounds f32 to F16 to nearest, ties to even', () => {
  const cases: Array<[number, number]> = [
    [1, 0x3c00],
    [1 + 2 ** -11, 0x3c00], // halfway between 0x3c00 and 0x3c01: to the even one
    [1 + 3 * 2 ** -11, 0x3c02], // halfway between 0x3c01 and 0x3c02: to the even one
    [1 + 2 ** -11 + 2 ** -20, 0x3c01], // just above halfway: up
    [65519, 0x7bff], // below halfway to 65536: stays the largest finite
    [65520, 0x7c00], // halfway to 65536 rounds to even, which is past the range: infinity
    [-1e6, 0xfc00],
    [2 ** -24, 0x0001],
    [2 ** -25, 0x0000], // halfway between 0 and the smallest subnormal: to zero
    [1.5 * 2 ** -25, 0x0001],
    [3 * 2 ** -25, 0x0002], // halfway between subnormals 1 and 2: to the even one
    [2 ** -14 - 2 ** -25, 0x0400], // halfway between the largest subnormal and the smallest normal
    [1e-10, 0x0000],
    [-0, 0x8000],
    [Infinity, 0x7c00],
  ];
  const p = tempPath();
  writeSafetensors(p, { x: { dtype: 'F16', shape: [cases.length + 1], data: new Float32Array([...cases.map((c) => c[0]), NaN]) } });
  const file = SafetensorsFile.open(p);
  const raw = file.readRaw('x');
  file.close();
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  cases.forEach(([value, bits], i) => {
    assert.is(view.getUint16(i * 2, true), bits, `${value} should encode as 0x${bits.toString(16)}`);
  });
  const nan = view.getUint16(cases.length * 2, true);
  assert.ok((nan & 0x7c00) === 0x7c00 && (nan & 0x03ff) !== 0, 'NaN stays NaN');
});

test('every F16 bit pattern survives F16 -> f32 -> F16', () => {
  const all = new Uint16Array(65536).map((_, i) => i);
  const back = f32ToF16(f16ToF32(all));
  for (let h = 0; h < 65536; h++) {
    if (back[h] !== h) assert.unreachable(`0x${h.toString(16)} came back as 0x${back[h].toString(16)}`);
  }
});

// ---- Reading files built by hand ----------------------------------------------------------------

test('reads a hand-built file whose data starts at an odd offset', () => {
  // Tensors of several dtypes, packed back to back so that most are unaligned too.
  const data = new DataView(new ArrayBuffer(63));
  data.setFloat64(0, 1.5, true);
  data.setFloat64(8, 0.1, true);
  data.setBigInt64(16, -5n, true);
  data.setBigInt64(24, 2n ** 31n - 1n, true);
  data.setBigInt64(32, -(2n ** 31n), true);
  data.setInt32(40, -7, true);
  data.setInt32(44, 123456, true);
  [0, 200, 255].forEach((v, i) => data.setUint8(48 + i, v));
  [1, 0].forEach((v, i) => data.setUint8(51 + i, v));
  data.setInt16(53, -300, true);
  data.setFloat32(55, 3.5, true);
  data.setFloat32(59, -0.25, true);
  let header =
    '{"f64":{"dtype":"F64","shape":[2],"data_offsets":[0,16]},' +
    '"i64":{"dtype":"I64","shape":[3],"data_offsets":[16,40]},' +
    '"i32":{"dtype":"I32","shape":[2],"data_offsets":[40,48]},' +
    '"u8":{"dtype":"U8","shape":[3],"data_offsets":[48,51]},' +
    '"bool":{"dtype":"BOOL","shape":[2],"data_offsets":[51,53]},' +
    '"i16":{"dtype":"I16","shape":[1],"data_offsets":[53,55]},' +
    '"f32":{"dtype":"F32","shape":[2,1],"data_offsets":[55,63]}}';
  if ((8 + header.length) % 2 === 0) header += ' '; // make the data start odd
  const p = saveBytes(fileBytes(header, new Uint8Array(data.buffer)));

  const file = SafetensorsFile.open(p);
  try {
    assert.is(file.tensors.size, 7);
    assertSameFloats(file.readF32('f64'), [1.5, Math.fround(0.1)]);
    assert.equal([...file.readI32('i64')], [-5, 2 ** 31 - 1, -(2 ** 31)]);
    assertSameFloats(file.readF32('i64'), [-5, 2 ** 31, -(2 ** 31)]); // 2^31 - 1 rounds in f32
    assert.equal([...file.readI32('i32')], [-7, 123456]);
    assert.equal([...file.readI32('u8')], [0, 200, 255]);
    assert.equal([...file.readRaw('u8')], [0, 200, 255]);
    assert.equal([...file.readI32('bool')], [1, 0]);
    assertSameFloats(file.readF32('i16'), [-300]);
    assert.equal(file.info('f32').shape, [2, 1]);
    assertSameFloats(file.readF32('f32'), [3.5, -0.25]);
  } finally {
    file.close();
  }
});

test('zero-size tensors and an empty header are valid', () => {
  const header =
    '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},' +
    '"none":{"dtype":"F16","shape":[0,3],"data_offsets":[4,4]},' +
    '"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}';
  const p = saveBytes(fileBytes(header, new Uint8Array(new Float32Array([1, 2]).buffer)));
  const file = SafetensorsFile.open(p);
  assert.equal(file.readF32('none').length, 0);
  assertSameFloats(file.readF32('b'), [2]);
  file.close();

  const empty = SafetensorsFile.open(saveBytes(fileBytes('{}')));
  assert.is(empty.tensors.size, 0);
  empty.close();
});

test('tensors are listed in header order, integer-like names included', () => {
  // A JS object would list "1" first; the reader must keep the order of the file.
  const header = `{"z":${f32At(0)},"1":${f32At(4)},"a":${f32At(8)}}`;
  const file = SafetensorsFile.open(saveBytes(fileBytes(header, zeros(12))));
  assert.equal([...file.tensors.keys()], ['z', '1', 'a']);
  file.close();
});

test('nested keys and string values that repeat a name are not duplicates', () => {
  // A key ending in a backslash, a metadata key equal to a tensor name, and a value that looks like one.
  const header = String.raw`{"__metadata__":{"w":"w","x\\":"\"w\":"},"w\\":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`;
  const file = SafetensorsFile.open(saveBytes(fileBytes(header, [5, 6])));
  assert.equal([...file.tensors.keys()], ['w\\', 'w']);
  assert.equal(file.metadata, { w: 'w', 'x\\': '"w":' });
  assert.equal([...file.readRaw('w')], [6]);
  file.close();
});

test('readI32 refuses I64 values outside the int32 range, and float tensors', () => {
  const data = new DataView(new ArrayBuffer(24));
  data.setBigInt64(0, 1n, true);
  data.setBigInt64(8, 2n ** 31n, true);
  data.setBigInt64(16, -(2n ** 31n) - 1n, true);
  const header =
    '{"big":{"dtype":"I64","shape":[2],"data_offsets":[0,16]},' +
    '"small":{"dtype":"I64","shape":[1],"data_offsets":[16,24]},' +
    '"f":{"dtype":"F32","shape":[0],"data_offsets":[24,24]}}';
  const p = saveBytes(fileBytes(header, new Uint8Array(data.buffer)));
  const file = SafetensorsFile.open(p);
  expectUserError(() => file.readI32('big'), p, '"big"', '2147483648', 'outside the int32 range');
  expectUserError(() => file.readI32('small'), p, '"small"', '-2147483649', 'outside the int32 range');
  expectUserError(() => file.readI32('f'), p, '"f"', 'F32', 'integers were expected');
  file.close();
});

test('asking for a missing tensor names the tensor and the file', () => {
  const p = tempPath();
  writeSafetensors(p, { present: { dtype: 'F32', shape: [1], data: [1] } });
  const file = SafetensorsFile.open(p);
  assert.ok(file.has('present'));
  assert.not.ok(file.has('absent'));
  expectUserError(() => file.info('absent'), p, '"absent"', '"present"');
  expectUserError(() => file.readF32('absent'), p, '"absent"');
  file.close();
});

test('a missing file is a UserError', () => {
  const p = path.join(dir, 'does-not-exist.safetensors');
  expectUserError(() => SafetensorsFile.open(p), p, 'no such safetensors file');
});

// ---- Malformed files ----------------------------------------------------------------------------

const malformedCases: Array<[string, Uint8Array, string[]]> = [
  ['an empty file', new Uint8Array(0), ['the file is empty', 'truncated']],
  ['a file shorter than 8 bytes', new Uint8Array([1, 2, 3]), ['3 bytes', 'too short']],
  [
    'a header length past the end of the file',
    (() => {
      const b = Buffer.alloc(2048);
      b.writeBigUInt64LE(123456789012n);
      return b;
    })(),
    ['header length 123456789012 is past the end of the file (2048 bytes)', 'truncated'],
  ],
  ['a header that is not UTF-8', fileBytes(new Uint8Array([0x7b, 0xff, 0x7d])), ['not valid UTF-8']],
  ['a header that is not JSON', fileBytes('{"a": '), ['not valid JSON']],
  ['a header that is a JSON array', fileBytes('[1, 2]'), ['not a JSON object']],
  ['a header that is JSON null', fileBytes('null'), ['not a JSON object']],
  ['an entry that is not an object', fileBytes('{"w": 5}'), ['tensor "w" is a number']],
  ['an entry without dtype', fileBytes('{"w":{"shape":[1],"data_offsets":[0,4]}}', zeros(4)), ['"w" has no dtype']],
  ['an entry without shape', fileBytes('{"w":{"dtype":"F32","data_offsets":[0,4]}}', zeros(4)), ['"w" has no shape']],
  ['an entry without data_offsets', fileBytes('{"w":{"dtype":"F32","shape":[1]}}', zeros(4)), ['"w" has no data_offsets']],
  ['a dtype that is not a string', fileBytes('{"w":{"dtype":4,"shape":[1],"data_offsets":[0,4]}}', zeros(4)), ['dtype that is a number']],
  ['a shape that is not a list', fileBytes('{"w":{"dtype":"F32","shape":"1","data_offsets":[0,4]}}', zeros(4)), ['shape "1"', 'non-negative integers']],
  ['a negative dim', fileBytes('{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', zeros(4)), ['shape [-1]']],
  ['a non-integer dim', fileBytes('{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}', zeros(4)), ['shape [1.5]']],
  ['one data offset', fileBytes('{"w":{"dtype":"F32","shape":[1],"data_offsets":[4]}}', zeros(4)), ['data_offsets [4]', 'begin <= end']],
  ['a negative data offset', fileBytes('{"w":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}', zeros(4)), ['data_offsets [-4,0]']],
  ['a non-integer data offset', fileBytes('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4.5]}}', zeros(4)), ['data_offsets [0,4.5]']],
  ['data offsets with begin > end', fileBytes('{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}', zeros(4)), ['data_offsets [4,0]']],
  [
    'an unknown dtype',
    fileBytes('{"w":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}', zeros(1)),
    ['unsupported dtype "F8_E4M3"', 'convert the checkpoint to one of F64, F32, F16, BF16'],
  ],
  [
    'a byte count that does not match the shape',
    fileBytes('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', zeros(4)),
    ['"w" (F32, shape [2]) should take 8 bytes but data_offsets give 4'],
  ],
  [
    'a gap between tensors',
    fileBytes(`{"a":${f32At(0)},"b":${f32At(8)}}`, zeros(12)),
    ['4 bytes unused between tensors "a" (ends at 4) and "b" (begins at 8)'],
  ],
  [
    'overlapping tensors',
    fileBytes('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', zeros(12)),
    ['tensors "a" (bytes 0..8) and "b" (bytes 4..12) overlap'],
  ],
  ['data that does not start at 0', fileBytes(`{"a":${f32At(4)}}`, zeros(8)), ['the data starts at byte 4 (tensor "a"), not at byte 0']],
  ['trailing bytes after the last tensor', fileBytes(`{"a":${f32At(0)}}`, zeros(8)), ['4 bytes left over after the last tensor']],
  ['tensors past the end of the file', fileBytes(`{"a":${f32At(0)},"b":${f32At(4)}}`, zeros(6)), ['need 8 bytes of data but the file holds 6', 'truncated']],
  ['a duplicate tensor name', fileBytes(`{"a":${f32At(0)},"a":${f32At(4)}}`, zeros(8)), ['the header names "a" twice']],
  [
    // The same key spelled with an escaped quote and with a \u escape.
    'a duplicate name with escaped quotes',
    fileBytes(String.raw`{"x\"y":${f32At(0)},"x\u0022y":${f32At(4)}}`, zeros(8)),
    [String.raw`the header names "x\"y" twice`],
  ],
  ['__metadata__ that is not an object', fileBytes('{"__metadata__":"v1"}'), ['__metadata__ is not an object']],
  ['__metadata__ with a non-string value', fileBytes('{"__metadata__":{"epoch":3}}'), ['but "epoch" is a number']],
];

for (const [name, bytes, fragments] of malformedCases) {
  test(`refuses ${name}`, () => expectRefused(bytes, ...fragments));
}

test('refuses a header length over 100,000,000 bytes', () => {
  // The length must fit in the file to get past the truncation check, so the file is made just
  // large enough with truncate: sparse, so nothing is actually written.
  const p = tempPath();
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(100_000_001n);
  fs.writeFileSync(p, b);
  fs.truncateSync(p, 100_000_016);
  expectUserError(() => SafetensorsFile.open(p), p, 'header length 100000001 is over the limit of 100000000 bytes');
  fs.rmSync(p);
});

test.run();
