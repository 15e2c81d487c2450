// The restricted unpickler on hand-written pickles: the values it rebuilds, the names it allows, and
// every way a pickle could run code or exhaust memory, each refused in one line.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UserError } from '../../core/errors.js';
import { ALLOWED_GLOBALS, Dict, Namespace, StorageRef, TensorRef, Tuple, unpickle, type Value } from '../../core/pickle.js';
import { int, ints, pickle, PROTO2, stateDict, str, tensor } from './torch-files.js';

const storage = (key: string, dtype: StorageRef['dtype'], numel: number) => new StorageRef(key, dtype, numel);
const load = (bytes: Uint8Array): Value => unpickle(bytes, 'x.pt: data.pkl', storage);

function refused(bytes: Uint8Array, pattern: RegExp): void {
  let error: unknown;
  try {
    load(bytes);
  } catch (e) {
    error = e;
  }
  assert.instance(error, UserError, `expected a UserError for ${pattern}`);
  const message = (error as Error).message;
  assert.not.ok(message.includes('\n'), message);
  assert.ok(message.startsWith('x.pt: data.pkl: '), message);
  assert.match(message, pattern);
}

test('the allow-list: tensors, storages, OrderedDict and argparse.Namespace, nothing else', () => {
  assert.equal([...ALLOWED_GLOBALS].sort(), [
    'argparse.Namespace', 'collections.OrderedDict',
    'torch.BFloat16Storage', 'torch.BoolStorage', 'torch.ByteStorage', 'torch.CharStorage', 'torch.DoubleStorage',
    'torch.FloatStorage', 'torch.HalfStorage', 'torch.IntStorage', 'torch.LongStorage', 'torch.ShortStorage',
    'torch._utils._rebuild_parameter', 'torch._utils._rebuild_tensor_v2',
  ]);
});

test('plain values: ints, floats, strings, bytes, tuples, lists, dicts in order, shared memo entries', () => {
  const v = load(pickle(PROTO2, '}', 'q', 0, '(',
    str('i'), 'K', 7, str('neg'), int(-5), str('big'), 0x8a, 9, [0, 0, 0, 0, 0, 0, 0, 0, 1], // 2^64 as LONG1
    str('f'), 'G', [0x3f, 0xf8, 0, 0, 0, 0, 0, 0], // 1.5, big-endian
    str('s'), str('héllo'), str('b'), 'C', 2, [1, 2], str('t'), 'N', 0x88, 0x86, str('l'), ']', 'q', 1, '(', 'K', 1, 'K', 2, 'e',
    str('again'), 'h', 1, 'u', '.'));
  assert.instance(v, Dict);
  const d = (v as Dict).items;
  assert.equal([...d.keys()], ['i', 'neg', 'big', 'f', 's', 'b', 't', 'l', 'again']);
  assert.is(d.get('i'), 7);
  assert.is(d.get('neg'), -5);
  assert.is(d.get('big'), 2n ** 64n);
  assert.is(d.get('f'), 1.5);
  assert.is(d.get('s'), 'héllo');
  assert.equal([...(d.get('b') as Uint8Array)], [1, 2]);
  assert.equal((d.get('t') as Tuple).items, [null, true]);
  assert.equal(d.get('l'), [1, 2]);
  assert.ok(d.get('again') === d.get('l'), 'BINGET gives the same object, not a copy');
});

test('protocol 4: FRAME, SHORT_BINUNICODE, MEMOIZE and STACK_GLOBAL', () => {
  const v = load(pickle(0x80, 4, 0x95, [20, 0, 0, 0, 0, 0, 0, 0], 0x8c, 11, 'collections', 0x94, 0x8c, 11, 'OrderedDict', 0x94, 0x93, 0x94, ')', 'R', 0x94,
    0x8c, 1, 'a', 'h', 0, 's', '.'));
  assert.instance(v, Dict);
  assert.equal([...(v as Dict).items], [['a', 'collections']]);
});

test('tensors: storage, offset, shape and strides; a Parameter is its tensor', () => {
  const sd = load(pickle(PROTO2, stateDict([
    ['w', tensor('0', 12, 2, [2, 3], [1, 2])],
    ['p', ['ctorch._utils\n_rebuild_parameter\n', '(', ...tensor('1', 4, 0, [4], [1]), 0x88, 'ccollections\nOrderedDict\n', ')', 'R', 't', 'R']],
  ]), '.')) as Dict;
  const w = sd.items.get('w') as TensorRef;
  assert.instance(w, TensorRef);
  assert.equal([w.storage.key, w.storage.dtype, w.storage.numel, w.offset, w.shape, w.stride], ['0', 'F32', 12, 2, [2, 3], [1, 2]]);
  assert.equal((sd.items.get('p') as TensorRef).shape, [4]);
});

test('argparse.Namespace is kept as an empty marker: its contents are never read', () => {
  const v = load(pickle(PROTO2, 'cargparse\nNamespace\n', ')', 0x81, '}', '(', str('lr'), 'G', [0x3f, 0x1a, 0x36, 0xe2, 0xeb, 0x1c, 0x43, 0x2d], 'u', 'b', '.'));
  assert.instance(v, Namespace);
  assert.equal(Object.keys(v as object), []);
});

test('every name outside the allow-list is refused where it appears, called or not', () => {
  const name = /the pickle names "([^"]+)", which ditto refuses: it would run code/;
  refused(pickle(PROTO2, 'cos\nsystem\n', str('touch /tmp/x'), 0x85, 'R', '.'), name);
  refused(pickle(PROTO2, 'cbuiltins\neval\n', str('1+1'), 0x85, 'R', '.'), /"builtins\.eval"/);
  refused(pickle(PROTO2, 'csubprocess\nPopen\n', ']', str('ls'), 'a', 0x85, 'R', '.'), /"subprocess\.Popen"/);
  refused(pickle(0x80, 4, 0x8c, 8, 'builtins', 0x8c, 4, 'exec', 0x93, '.'), /"builtins\.exec"/);
  // Never called: a name that only sits in a dict after the tensors is refused all the same.
  refused(pickle(PROTO2, '}', '(', str('w'), ...tensor('0', 1, 0, [1], [1]), str('x'), 'cposix\nsystem\n', 'u', '.'), /"posix\.system"/);
  refused(pickle(PROTO2, 'ctorch\nload\n', '.'), /"torch\.load"/);
  refused(pickle(PROTO2, 'ctorch._utils\n_rebuild_qtensor\n', '.'), /"torch\._utils\._rebuild_qtensor"/);
  refused(pickle(PROTO2, 'ctorch\nComplexFloatStorage\n', '.'), /torch\.ComplexFloatStorage are not supported/);
});

test('opcodes that call classes without a GLOBAL are refused outright', () => {
  refused(pickle(PROTO2, '(', 'ios\nsystem\n', '.'), /INST .* would run code/);
  refused(pickle(PROTO2, '(', 'N', 'o', '.'), /OBJ .* would run code/);
  refused(pickle(PROTO2, 0x82, 1, '.'), /EXT1 .* would run code/);
  refused(pickle(0x80, 4, 'N', ')', '}', 0x92, '.'), /NEWOBJ_EX .* would run code/);
});

test('allowed names are used only as torch.save uses them', () => {
  refused(pickle(PROTO2, 'cargparse\nNamespace\n', ')', 'R', '.'), /calls argparse\.Namespace, which is not a function torch\.save uses/);
  refused(pickle(PROTO2, 'ctorch\nFloatStorage\n', ')', 'R', '.'), /calls torch\.FloatStorage/);
  refused(pickle(PROTO2, 'ccollections\nOrderedDict\n', ')', 0x81, '.'), /creates an object of collections\.OrderedDict/);
  refused(pickle(PROTO2, 'ccollections\nOrderedDict\n', '(', 'K', 1, 't', 'R', '.'), /OrderedDict is called with 1 arguments/);
  refused(pickle(PROTO2, ']', '}', 'b', '.'), /sets the state of a list/);
  refused(pickle(PROTO2, 'K', 1, 'K', 2, 'a', '.'), /appends to an int, not a list/);
  refused(pickle(PROTO2, ')', 'K', 1, 'a', '.'), /appends to a tuple/);
  refused(pickle(PROTO2, ']', 'K', 1, 'K', 2, 's', '.'), /sets an item of a list/);
  refused(pickle(PROTO2, str('storage'), 'Q', '.'), /persistent id at byte \d+ is not \('storage'/);
  refused(pickle(PROTO2, '(', str('storage'), 'cargparse\nNamespace\n', str('0'), str('cpu'), 'K', 1, 't', 'Q', '.'), /persistent id/);
});

test('a tensor must lie inside its storage and hold no more elements than it', () => {
  refused(pickle(PROTO2, tensor('0', 6, 1, [2, 3], [3, 1]), '.'), /reaches element 6 of storage "0", which holds 6/);
  refused(pickle(PROTO2, tensor('0', 1, 0, [1000], [0]), '.'), /1000 elements, more than its storage "0" holds \(1\): an expanded view/);
  refused(pickle(PROTO2, tensor('0', 6, -1, [2], [1]), '.'), /storage offset is an int -1/);
  refused(pickle(PROTO2, tensor('0', 6, 0, [2, 3], [1]), '.'), /shape \[2, 3\] has 1 strides/);
  refused(pickle(PROTO2, tensor('0', 6, 0, [-2], [1]), '.'), /shape is a tuple, not a tuple of non-negative integers/);
  refused(pickle(PROTO2, tensor('0', 1, 0, new Array(65).fill(1), new Array(65).fill(1)), '.'), /rank 65/);
  // An empty tensor may sit anywhere, as torch writes it.
  assert.instance(load(pickle(PROTO2, tensor('0', 0, 0, [0, 3], [3, 1]), '.')), TensorRef);
});

test('broken pickles: every read is bounded, every reference checked', () => {
  refused(pickle(PROTO2, 'N'), /ends without a STOP/);
  refused(pickle(PROTO2, 'X', [0xff, 0xff, 0xff, 0x7f], 'abc'), /runs past the end of the pickle/);
  refused(pickle(PROTO2, 0x8d, [0, 0, 0, 0, 0, 0, 0, 0x80], '.'), /runs past the end of the pickle/);
  refused(pickle(PROTO2, 'h', 3, '.'), /memo entry 3, which was never stored/);
  refused(pickle(PROTO2, '.'), /pops an empty stack/);
  refused(pickle(PROTO2, 't', '.'), /needs a MARK/);
  refused(pickle(PROTO2, 0x8b, [0, 1, 0, 0], '.'), /an integer of 256 bytes/);
  refused(pickle(PROTO2, 'cos\nsystem'), /no end of line/);
  refused(pickle(PROTO2, 0xff, '.'), /opcode 0xff, which torch\.save does not write/);
  refused(pickle(PROTO2, '}', '(', 'K', 1, 'u', '.'), /odd number of values/);
});

test('nesting and size are bounded: 100,000 MARKs and millions of values fail fast', () => {
  const started = performance.now();
  refused(pickle(PROTO2, '('.repeat(100_000), 't'.repeat(100_000), '.'), /nests deeper than 1000 levels/);
  const many = new Uint8Array(4_000_100).fill(0x4e); // NONE, over and over
  many.set([0x80, 2]);
  refused(many, /makes more than 4000000 values/);
  // Lists nest without MARKs; the machine has no recursion, so depth alone costs nothing.
  const lists = pickle(PROTO2, ']'.repeat(100_000), 'a'.repeat(99_999), '.');
  assert.ok(Array.isArray(load(lists)));
  assert.ok(performance.now() - started < 3000, `took ${performance.now() - started} ms`);
});

test.run();
