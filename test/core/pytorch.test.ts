// PyTorch checkpoints: every fixture torch.save wrote (tools/make_pt_fixtures.py) read exactly, and
// every hostile or broken one refused in one line, quickly, without running anything.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UserError } from '../../core/errors.js';
import { PyTorchFile } from '../../core/pytorch.js';
import { SafetensorsFile } from '../../core/safetensors.js';
import { fixture } from '../backends.js';
import { int, pickle, PROTO2, stateDict, str, tensor, writeCheckpoint, writeZip } from './torch-files.js';
import { entryStart, readZipIndex } from '../../core/zip.js';

const pt = (name: string) => fixture(`pt/${name}`);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ditto-pytorch-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** The .pt file's tensors equal the safetensors file's, name for name in the same order, bit for bit. */
function assertSameTensors(ptPath: string, expectedPath: string): PyTorchFile {
  const file = PyTorchFile.open(ptPath);
  const want = SafetensorsFile.open(expectedPath);
  try {
    assert.equal([...file.tensors.keys()], [...want.tensors.keys()], 'names, in state-dict order');
    for (const [name, info] of want.tensors) {
      const got = file.info(name);
      assert.equal(got.shape, info.shape, name);
      // The expected file holds BF16 widened to F32; every other dtype as stored.
      if (got.dtype !== 'BF16') {
        assert.is(got.dtype, info.dtype, name);
        assert.ok(Buffer.from(file.readRaw(name)).equals(Buffer.from(want.readRaw(name))), `${name}: raw bytes`);
      }
      assert.ok(bits(file.readF32(name)).equals(bits(want.readF32(name))), `${name}: f32 values`);
    }
  } finally {
    want.close();
    file.close();
  }
  return file;
}

test('a plain state dict: the DiT fixture as .pt reads exactly as its safetensors', () => {
  const file = assertSameTensors(pt('dit-d1-h64-p8-nosigma.pt'), fixture('dit-d1-h64-p8-nosigma.weights.safetensors'));
  assert.is(file.selected, null);
  assert.equal(file.metadata, {}, 'the config of a .pt comes from shapes and flags, never from the pickle');
});

test('a training checkpoint: "ema" is taken; the model, Adam state and argparse args are passed over', () => {
  const file = assertSameTensors(pt('training.pt'), pt('training.expected.safetensors'));
  assert.is(file.selected, 'ema');
});

test('a Lightning checkpoint (latent-diffusion\'s released .ckpt): the dict under "state_dict" is taken', () => {
  const file = path.join(dir, 'lightning.ckpt');
  const weights = new Uint8Array(new Float32Array([1.5, -2, 0.25]).buffer);
  writeCheckpoint(file, pickle(PROTO2, '}', '(', str('state_dict'), ...stateDict([['decoder.conv_in.bias', tensor('0', 3, 0, [3], [1])]]), str('global_step'), int(7), 'u', '.'),
    [{ name: '0', data: weights }]);
  const f = PyTorchFile.open(file);
  assert.is(f.selected, 'state_dict');
  assert.equal([...f.tensors.keys()], ['decoder.conv_in.bias']);
  assert.equal([...f.readF32('decoder.conv_in.bias')], [1.5, -2, 0.25]);
  f.close();
});

test('views of shared storages, strided tensors, F16/BF16/F64/I64, scalars, empty and tied tensors (protocol 2 and 4)', () => {
  for (const name of ['views.pt', 'views-p4.pt']) assertSameTensors(pt(name), pt('views.expected.safetensors'));
  const file = PyTorchFile.open(pt('views.pt'));
  const whole = file.readF32('whole');
  assert.equal([...file.readF32('slice')], [...whole.slice(5, 11)], 'a slice at offset 5 of the same storage');
  assert.equal([...file.readF32('step')], [...whole].filter((_, i) => i % 3 === 1), 'stride 3');
  assert.equal(file.info('transposed').stride, [1, 4]);
  assert.equal(['f16', 'bf16', 'f64', 'i64', 'scalar'].map((n) => [file.info(n).dtype, file.info(n).shape]),
    [['F16', [3, 5]], ['BF16', [2, 3]], ['F64', [4]], ['I64', [3]], ['F32', []]]);
  file.close();
});

test('a .pt renamed: the root folder inside need not match the file name', () => {
  const copy = path.join(dir, 'renamed.pt');
  fs.copyFileSync(pt('views.pt'), copy);
  assertSameTensors(copy, pt('views.expected.safetensors'));
});

test('zip64 records (archives past 4 GiB) are read', () => {
  // The entries of views.pt, re-zipped with every size and offset in zip64 fields.
  const source = pt('views.pt');
  const fd = fs.openSync(source, 'r');
  const size = fs.fstatSync(fd).size;
  const fail = (p: string): never => {
    throw new Error(p);
  };
  const entries = [...readZipIndex(fd, size, fail).values()].map((e) => {
    const data = Buffer.alloc(e.size);
    fs.readSync(fd, data, 0, e.size, entryStart(fd, size, e, fail));
    return { name: e.name, data };
  });
  fs.closeSync(fd);
  const zip64 = path.join(dir, 'zip64.pt');
  writeZip(zip64, entries, { zip64: true });
  assertSameTensors(zip64, pt('views.expected.safetensors'));
});

test('strided views of large storages are gathered window by window, not read whole', () => {
  // An 80 MB storage (a sparse file: only the elements the views use are written) and two views
  // that span more than twice their size and more than the 64 MiB window.
  const n = 20_000_010;
  const f32 = (v: number) => new Uint8Array(Float32Array.of(v).buffer);
  const rows = [[4, 3], [6_000_000, 2]]; // shape, strides: each row one window
  const spread = [[5], [5_000_000]]; // each element its own window
  const pokes: [number, Uint8Array][] = [];
  for (let i = 0; i < 4; i++) for (let j = 0; j < 3; j++) pokes.push([(i * 6_000_000 + j * 2) * 4, f32(10 * i + j)]);
  for (let i = 0; i < 5; i++) pokes.push([(1 + i * 5_000_000) * 4, f32(-i)]);
  const file = path.join(dir, 'sparse.pt');
  writeCheckpoint(file, pickle(PROTO2, stateDict([
    ['rows', tensor('0', n, 0, rows[0], rows[1])],
    ['spread', tensor('0', n, 1, spread[0], spread[1])],
  ]), '.'), [{ name: '0', size: n * 4, pokes }]);
  const ckpt = PyTorchFile.open(file);
  assert.equal([...ckpt.readF32('rows')], [0, 1, 2, 10, 11, 12, 20, 21, 22, 30, 31, 32]);
  assert.equal([...ckpt.readF32('spread')], [0, -1, -2, -3, -4]);
  ckpt.close();
});

/** Opening `file` fails in one line that names it and matches `pattern`, in well under a second. */
function refused(file: string, pattern: RegExp): void {
  const started = performance.now();
  let error: unknown;
  try {
    PyTorchFile.open(file).close();
  } catch (e) {
    error = e;
  }
  const ms = performance.now() - started;
  assert.instance(error, UserError, `${file}: expected a UserError`);
  const message = (error as Error).message;
  assert.not.ok(message.includes('\n'), `one line: ${message}`);
  assert.ok(message.startsWith(`${file}: `), `names the file: ${message}`);
  assert.match(message, pattern);
  assert.ok(ms < 1000, `${file}: refused in ${ms.toFixed(0)} ms`);
}

const MALICIOUS = ['os-system', 'builtins-eval', 'subprocess-popen', 'hidden-global'];
const marker = (name: string) => `/tmp/ditto-pt-marker-${name}`;

test('hostile and broken files are refused in one line, each within a second', () => {
  const cases: [string, RegExp][] = [
    ['os-system.pt', /names "os\.system", which ditto refuses: it would run code/],
    ['builtins-eval.pt', /names "builtins\.eval", which ditto refuses/],
    ['subprocess-popen.pt', /names "subprocess\.Popen", which ditto refuses/],
    ['hidden-global.pt', /names "posix\.system", which ditto refuses/],
    ['missing-storage.pt', /storage "1" has no entry archive\/data\/1 in the zip/],
    ['short-storage.pt', /storage "0" holds 6 F32 elements \(24 bytes\) but its entry archive\/data\/0 has 20 bytes/],
    ['deep.pt', /nests deeper than 1000 levels/],
    ['deflated.pt', /is compressed \(method 8\), but torch\.save stores entries uncompressed: .*re-save it with torch\.save/],
    ['truncated.pt', /the zip file has no end record/],
    ['random.pt', /not a PyTorch checkpoint/],
    ['huge-entry.pt', /declares 4294967280 bytes at byte \d+, past the end of the file/],
    ['big-endian.pt', /stored "big"-endian/],
    ['legacy.pt', /legacy format .*torch\.save\(torch\.load\(f\), g\)/],
  ];
  for (const [name, pattern] of cases) refused(pt(name), pattern);
});

test('the malicious pickles never run: their marker files are not created', () => {
  for (const name of MALICIOUS) fs.rmSync(marker(name), { force: true });
  for (const name of MALICIOUS) assert.throws(() => PyTorchFile.open(pt(`${name}.pt`)), (e: Error) => e instanceof UserError);
  for (const name of MALICIOUS) assert.not.ok(fs.existsSync(marker(name)), `${marker(name)} exists`);
});

test('other broken layouts', () => {
  const write = (name: string, entries: Parameters<typeof writeZip>[1]) => {
    const file = path.join(dir, name);
    writeZip(file, entries);
    return file;
  };
  refused(write('nopickle.pt', [{ name: 'archive/version', data: Buffer.from('3') }]), /without <folder>\/data\.pkl/);
  refused(write('noversion.pt', [{ name: 'archive/data.pkl', data: pickle(PROTO2, '}', '.') }]), /no archive\/version entry/);
  refused(write('twice.pt', [{ name: 'a/data.pkl', data: pickle(PROTO2, '}', '.') }, { name: 'b/data.pkl', data: pickle(PROTO2, '}', '.') }]), /2 data\.pkl files/);
  const list = path.join(dir, 'list.pt');
  writeCheckpoint(list, pickle(PROTO2, ']', '.'));
  refused(list, /the checkpoint holds a list, not a state dict/);
  const mixed = path.join(dir, 'mixed.pt');
  writeCheckpoint(mixed, pickle(PROTO2, '}', '(', 'X', [5, 0, 0, 0], 'epoch', 'K', 3, 'u', '.'));
  refused(mixed, /the state dict's entry "epoch" is an int, not a tensor: .*"ema", "model" or "state_dict"/);
  const emaList = path.join(dir, 'ema-list.pt');
  writeCheckpoint(emaList, pickle(PROTO2, '}', '(', 'X', [3, 0, 0, 0], 'ema', ']', 'u', '.'));
  refused(emaList, /the checkpoint's "ema" is a list, not a state dict/);
  const empty = path.join(dir, 'empty.pt');
  fs.writeFileSync(empty, '');
  refused(empty, /not a PyTorch checkpoint/);
});

test('tensors are read on demand: a file that shrinks after opening fails in one line', () => {
  const copy = path.join(dir, 'shrinks.pt');
  fs.copyFileSync(pt('dit-d1-h64-p8-nosigma.pt'), copy);
  const file = PyTorchFile.open(copy);
  fs.truncateSync(copy, 1000);
  assert.throws(() => file.readF32('final_layer.linear.weight'), (e: Error) => e instanceof UserError && /the file ended while reading a tensor/.test(e.message));
  file.close();
});

test.run();
