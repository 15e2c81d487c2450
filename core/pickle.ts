// A restricted unpickler for the data.pkl of a torch.save checkpoint: it rebuilds state dicts and
// never executes anything.
//
// Pickle is a little stack machine. Most opcodes push plain values (ints, floats, strings, tuples,
// lists, dicts) or move them between the stack and a memo (a table of values seen before, so shared
// objects are written once). Two opcodes are dangerous: GLOBAL names any importable Python object
// ("os system"), and REDUCE calls the object under its arguments. Together they run any function with
// any arguments: os.system("rm -rf ~") is four opcodes. Python's own unpickler does exactly that,
// which is why torch.load on a downloaded file can take over the machine.
//
// This reader imports nothing and calls nothing. A GLOBAL is looked up in a fixed table of the few
// names torch.save writes for tensors and state dicts (ALLOWED below); every other name is refused
// where it appears, whether or not anything would call it. The names in the table are not Python
// objects but recipes written in TypeScript: _rebuild_tensor_v2 becomes a TensorRef (which storage,
// where in it, shape and strides), a storage class becomes a dtype, OrderedDict an empty Dict.
// argparse.Namespace (the "args" of training checkpoints) is the one class recognised; it becomes an
// empty marker and its contents are never kept. Opcodes that build objects by calling classes
// without a GLOBAL (INST, OBJ, the extension registry, NEWOBJ_EX) are refused outright.
//
// The machine is iterative (no recursion, so nesting depth cannot overflow the call stack), bounds the
// nesting of MARKs and the number of values it creates, and checks every length against the bytes
// that remain, so a hostile pickle fails fast in one line instead of exhausting memory.

import { UserError } from './errors.js';
import type { SafeDType } from './safetensors.js';

/** A Python tuple. Lists are JS arrays; tuples are kept apart because only lists may be appended to. */
export class Tuple {
  constructor(readonly items: readonly Value[]) {}
}

/** A Python dict or OrderedDict, in insertion order. Keys are primitives (strings, ints) in practice. */
export class Dict {
  readonly items = new Map<Value, Value>();
}

/** A tensor storage: one zip entry (data/<key>) read as `numel` elements of `dtype`. */
export class StorageRef {
  constructor(readonly key: string, readonly dtype: SafeDType, readonly numel: number) {}
}

/** A tensor: `shape` elements at `offset + sum(index[i] * stride[i])` of its storage (in elements). */
export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
  ) {}
}

/** An argparse.Namespace: recognised so that training checkpoints open; what it held is dropped. */
export class Namespace {}

/** A name a GLOBAL opcode pushed, found in ALLOWED. */
class Global {
  constructor(readonly name: string, readonly role: Role) {}
}

export type Value =
  | null | boolean | number | bigint | string | Uint8Array
  | Value[] | Tuple | Dict | StorageRef | TensorRef | Namespace | Global;

type Role =
  /** A tensor storage class (torch.FloatStorage): appears only inside a persistent id. */
  | { kind: 'storage'; dtype: SafeDType }
  /** A function torch.save names for REDUCE; `rebuild` makes its result from the arguments, in TypeScript. */
  | { kind: 'function'; rebuild: (args: readonly Value[], fail: Fail) => Value }
  /** argparse.Namespace: created by NEWOBJ and filled by BUILD. */
  | { kind: 'namespace' };

type Fail = (problem: string) => never;

/** How a persistent id ('storage', type, key, location, numel) becomes a storage: the caller checks the key against the zip. */
export type LoadStorage = (key: string, dtype: SafeDType, numel: number) => StorageRef;

const STORAGES: Readonly<Record<string, SafeDType>> = {
  FloatStorage: 'F32', HalfStorage: 'F16', BFloat16Storage: 'BF16', DoubleStorage: 'F64',
  LongStorage: 'I64', IntStorage: 'I32', ShortStorage: 'I16', CharStorage: 'I8', ByteStorage: 'U8', BoolStorage: 'BOOL',
};

/** Every name a GLOBAL may give. Anything else, os.system or builtins.eval alike, is refused. */
const ALLOWED = new Map<string, Role>([
  ['collections.OrderedDict', { kind: 'function', rebuild: orderedDict }],
  ['torch._utils._rebuild_tensor_v2', { kind: 'function', rebuild: rebuildTensor }],
  ['torch._utils._rebuild_parameter', { kind: 'function', rebuild: rebuildParameter }],
  ['argparse.Namespace', { kind: 'namespace' }],
  ...Object.entries(STORAGES).map(([name, dtype]): [string, Role] => [`torch.${name}`, { kind: 'storage', dtype }]),
]);

/** The allowed names, for messages. */
export const ALLOWED_GLOBALS: readonly string[] = [...ALLOWED.keys()];

/** MARK nesting deeper than this is no checkpoint: a state dict nests a handful of levels. */
const MAX_MARK_DEPTH = 1000;
/** Values (and memo entries) one pickle may create: a checkpoint with optimizer state makes tens of thousands. */
const MAX_VALUES = 4_000_000;
/** PyTorch's own limit on dimensions. */
const MAX_RANK = 64;
/** Integers wider than this (LONG1/LONG4) are refused: a checkpoint's fit in 64 bits. */
const MAX_LONG_BYTES = 16;

function isInt(v: Value): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v);
}

/** A Python type name for messages. */
export function describe(v: Value): string {
  if (v === null) return 'None';
  if (typeof v === 'boolean') return 'a bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'an int' : 'a float';
  if (typeof v === 'bigint') return 'an int';
  if (typeof v === 'string') return 'a str';
  if (v instanceof Uint8Array) return 'bytes';
  if (Array.isArray(v)) return 'a list';
  if (v instanceof Tuple) return 'a tuple';
  if (v instanceof Dict) return 'a dict';
  if (v instanceof StorageRef) return 'a storage';
  if (v instanceof TensorRef) return 'a tensor';
  if (v instanceof Namespace) return 'an argparse.Namespace';
  return v.name;
}

/** A tuple or list of non-negative integers (a shape or strides). */
function counts(v: Value, what: string, fail: Fail): number[] {
  const items = v instanceof Tuple ? v.items : Array.isArray(v) ? v : null;
  if (!items || !items.every((d) => isInt(d) && d >= 0)) fail(`a tensor's ${what} is ${describe(v)}, not a tuple of non-negative integers`);
  return items as number[];
}

/** collections.OrderedDict(): an empty dict; SETITEMS fills it. */
function orderedDict(args: readonly Value[], fail: Fail): Value {
  if (args.length !== 0) fail(`OrderedDict is called with ${args.length} arguments; torch.save writes none`);
  return new Dict();
}

/**
 * torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks
 * [, metadata]): a view into a storage. Checked here so that every tensor lies inside its storage,
 * and holds no more elements than it (an expanded, stride-0 view could otherwise declare a tensor of
 * any size over a storage of one element).
 */
function rebuildTensor(args: readonly Value[], fail: Fail): Value {
  if (args.length !== 6 && args.length !== 7) fail(`_rebuild_tensor_v2 is called with ${args.length} arguments, not 6 or 7`);
  const [storage, offset, size, stride, requiresGrad, hooks] = args;
  if (!(storage instanceof StorageRef)) fail(`_rebuild_tensor_v2's storage is ${describe(storage)}, not a storage`);
  if (!isInt(offset) || offset < 0) fail(`_rebuild_tensor_v2's storage offset is ${describe(offset)} ${String(offset)}, not a non-negative integer`);
  const shape = counts(size, 'shape', fail);
  if (shape.length > MAX_RANK) fail(`a tensor of rank ${shape.length}; PyTorch tensors have at most ${MAX_RANK} dimensions`);
  const strides = counts(stride, 'strides', fail);
  if (strides.length !== shape.length) fail(`a tensor of shape [${shape.join(', ')}] has ${strides.length} strides`);
  if (typeof requiresGrad !== 'boolean' || !(hooks instanceof Dict)) fail('_rebuild_tensor_v2 has arguments of the wrong types');
  let numel = 1, last = offset;
  for (let i = 0; i < shape.length; i++) {
    numel *= shape[i];
    last += (shape[i] - 1) * strides[i];
  }
  const where = `a tensor (${storage.dtype}, shape [${shape.join(', ')}]) at offset ${offset}`;
  if (numel > 0 && last >= storage.numel) fail(`${where} reaches element ${last} of storage "${storage.key}", which holds ${storage.numel}`);
  if (numel > storage.numel) fail(`${where} has ${numel} elements, more than its storage "${storage.key}" holds (${storage.numel}): an expanded view`);
  return new TensorRef(storage, offset, shape, strides);
}

/** torch._utils._rebuild_parameter(data, requires_grad, backward_hooks): an nn.Parameter is its tensor. */
function rebuildParameter(args: readonly Value[], fail: Fail): Value {
  if (args.length !== 3 || !(args[0] instanceof TensorRef)) fail('_rebuild_parameter is called without a tensor');
  return args[0];
}

/** A Uint8Array reader that refuses to run past the end. */
class Bytes {
  pos = 0;
  private readonly view: DataView;
  constructor(readonly data: Uint8Array, private readonly fail: Fail) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  take(n: number): Uint8Array {
    if (n > this.data.length - this.pos) this.fail(`a length of ${n} bytes at byte ${this.pos} runs past the end of the pickle`);
    const out = this.data.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  u8(): number { return this.take(1)[0]; }
  u16(): number { const at = this.pos; this.take(2); return this.view.getUint16(at, true); }
  u32(): number { const at = this.pos; this.take(4); return this.view.getUint32(at, true); }
  i32(): number { const at = this.pos; this.take(4); return this.view.getInt32(at, true); }
  u64(): number {
    const at = this.pos;
    this.take(8);
    const v = this.view.getBigUint64(at, true);
    if (v > BigInt(this.data.length)) this.fail(`a length of ${v} bytes at byte ${at} runs past the end of the pickle`);
    return Number(v);
  }
  /** BINFLOAT is the one big-endian field. */
  f64be(): number { const at = this.pos; this.take(8); return this.view.getFloat64(at, false); }
  line(): string {
    const end = this.data.indexOf(0x0a, this.pos);
    if (end < 0) this.fail(`a GLOBAL at byte ${this.pos} has no end of line`);
    return new TextDecoder().decode(this.take(end - this.pos + 1).subarray(0, -1));
  }
}

/** Little-endian two's complement (LONG1, LONG4), as a number when it is exact, else a bigint. */
function longValue(bytes: Uint8Array): number | bigint {
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]);
  if (bytes.length > 0 && bytes[bytes.length - 1] & 0x80) v -= 1n << BigInt(8 * bytes.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** Opcodes that make objects by calling a class without a GLOBAL ditto can vet, with why they are refused. */
const REFUSED_OPCODES: Readonly<Record<number, string>> = {
  0x69: 'INST (calls a class named inline)',
  0x6f: 'OBJ (calls a class from the stack)',
  0x82: 'EXT1 (calls a class from the extension registry)',
  0x83: 'EXT2 (calls a class from the extension registry)',
  0x84: 'EXT4 (calls a class from the extension registry)',
  0x92: 'NEWOBJ_EX (calls a class with keyword arguments)',
};

/**
 * Runs the pickle in `data` and returns the object it builds. `where` prefixes every error
 * ("model.pt: data.pkl"); `loadStorage` turns a persistent id into a storage.
 */
export function unpickle(data: Uint8Array, where: string, loadStorage: LoadStorage): Value {
  const fail: Fail = (problem) => {
    throw new UserError(`${where}: ${problem}: the file is damaged or was not written by torch.save; save it again`);
  };
  const input = new Bytes(data, fail);
  let stack: Value[] = [];
  const marks: Value[][] = [];
  const memo = new Map<number, Value>();
  let created = 0;

  const count = () => {
    if (++created > MAX_VALUES) fail(`the pickle makes more than ${MAX_VALUES} values; no checkpoint's index needs that many`);
  };
  const push = (v: Value) => {
    count();
    stack.push(v);
  };
  const pop = (): Value => {
    if (stack.length === 0) fail(`byte ${input.pos - 1} pops an empty stack`);
    return stack.pop()!;
  };
  const top = (): Value => {
    if (stack.length === 0) fail(`byte ${input.pos - 1} reads an empty stack`);
    return stack[stack.length - 1];
  };
  /** The values pushed since the last MARK, which is removed. */
  const popMark = (): Value[] => {
    const items = stack;
    const below = marks.pop();
    if (below === undefined) fail(`byte ${input.pos - 1} needs a MARK and there is none`);
    stack = below;
    return items;
  };
  const list = (v: Value): Value[] => {
    if (!Array.isArray(v)) fail(`byte ${input.pos - 1} appends to ${describe(v)}, not a list`);
    return v;
  };
  const dict = (v: Value): Dict => {
    if (!(v instanceof Dict)) fail(`byte ${input.pos - 1} sets an item of ${describe(v)}, not a dict`);
    return v;
  };
  const setItems = (target: Dict, items: readonly Value[]) => {
    if (items.length % 2 !== 0) fail(`byte ${input.pos - 1} sets items from an odd number of values`);
    for (let i = 0; i < items.length; i += 2) target.items.set(items[i], items[i + 1]);
  };
  const memoize = (index: number) => {
    count();
    memo.set(index, top());
  };
  const recall = (index: number): Value => {
    if (!memo.has(index)) fail(`byte ${input.pos - 1} recalls memo entry ${index}, which was never stored`);
    return memo.get(index)!;
  };
  /** GLOBAL and STACK_GLOBAL: the name must be in the table; nothing is imported. */
  const global = (module: string, name: string): Global => {
    const qualified = `${module}.${name}`;
    const role = ALLOWED.get(qualified);
    if (role) return new Global(qualified, role);
    if (module === 'torch' && name.endsWith('Storage')) {
      throw new UserError(`${where}: tensors of type torch.${name} are not supported (${Object.keys(STORAGES).join(', ')} are): convert them to float32 before saving`);
    }
    throw new UserError(
      `${where}: the pickle names ${JSON.stringify(qualified)}, which ditto refuses: it would run code, and ditto runs nothing from a file ` +
        '(only tensors, dicts, lists, numbers, strings and argparse.Namespace are read): if you trust the file, re-save just the weights with torch.save(model.state_dict(), f)',
    );
  };
  const text = new TextDecoder('utf-8');

  for (;;) {
    const at = input.pos;
    if (at >= data.length) fail('the pickle ends without a STOP opcode');
    const op = input.u8();
    switch (op) {
      case 0x80: input.u8(); break; // PROTO n: the protocol version; every opcode below is read the same way in each
      case 0x95: input.u64(); break; // FRAME n: protocol 4 groups opcodes in frames; the bytes follow inline
      case 0x2e: return pop(); // STOP: the object on top is the result
      case 0x28: // MARK: later opcodes (TUPLE, LIST, DICT, APPENDS, SETITEMS) take everything pushed after it
        if (marks.length >= MAX_MARK_DEPTH) fail(`the pickle nests deeper than ${MAX_MARK_DEPTH} levels`);
        marks.push(stack);
        stack = [];
        break;
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: push(top()); break; // DUP
      case 0x4e: push(null); break; // NONE
      case 0x88: push(true); break; // NEWTRUE
      case 0x89: push(false); break; // NEWFALSE
      case 0x4a: push(input.i32()); break; // BININT: signed 32-bit
      case 0x4b: push(input.u8()); break; // BININT1
      case 0x4d: push(input.u16()); break; // BININT2
      case 0x8a: // LONG1 and LONG4: n bytes of two's complement
      case 0x8b: {
        const n = op === 0x8a ? input.u8() : input.i32();
        if (n < 0 || n > MAX_LONG_BYTES) fail(`an integer of ${n} bytes at byte ${at}`);
        push(longValue(input.take(n)));
        break;
      }
      case 0x47: push(input.f64be()); break; // BINFLOAT
      case 0x58: push(text.decode(input.take(input.u32()))); break; // BINUNICODE: UTF-8 with a 32-bit length
      case 0x8c: push(text.decode(input.take(input.u8()))); break; // SHORT_BINUNICODE
      case 0x8d: push(text.decode(input.take(input.u64()))); break; // BINUNICODE8
      case 0x42: push(input.take(input.u32()).slice()); break; // BINBYTES (protocol 3)
      case 0x43: push(input.take(input.u8()).slice()); break; // SHORT_BINBYTES
      case 0x8e: push(input.take(input.u64()).slice()); break; // BINBYTES8
      case 0x29: push(new Tuple([])); break; // EMPTY_TUPLE
      case 0x74: push(new Tuple(popMark())); break; // TUPLE: everything since MARK
      case 0x85: push(new Tuple([pop()])); break; // TUPLE1
      case 0x86: { const b = pop(), a = pop(); push(new Tuple([a, b])); break; } // TUPLE2
      case 0x87: { const c = pop(), b = pop(), a = pop(); push(new Tuple([a, b, c])); break; } // TUPLE3
      case 0x5d: push([]); break; // EMPTY_LIST
      case 0x6c: push(popMark()); break; // LIST
      case 0x61: { const v = pop(); list(top()).push(v); break; } // APPEND
      case 0x65: { const items = popMark(); list(top()).push(...items); break; } // APPENDS
      case 0x7d: push(new Dict()); break; // EMPTY_DICT
      case 0x64: { const d = new Dict(); setItems(d, popMark()); push(d); break; } // DICT
      case 0x73: { const v = pop(), k = pop(); setItems(dict(top()), [k, v]); break; } // SETITEM
      case 0x75: { const items = popMark(); setItems(dict(top()), items); break; } // SETITEMS
      case 0x71: memoize(input.u8()); break; // BINPUT: remember the top for later BINGETs
      case 0x72: memoize(input.u32()); break; // LONG_BINPUT
      case 0x94: memoize(memo.size); break; // MEMOIZE: protocol 4's BINPUT with an implicit index
      case 0x68: push(recall(input.u8())); break; // BINGET: the same object again (shared, not copied)
      case 0x6a: push(recall(input.u32())); break; // LONG_BINGET
      case 0x63: { const module = input.line(); push(global(module, input.line())); break; } // GLOBAL "module\nname\n"
      case 0x93: { // STACK_GLOBAL: module and name from the stack
        const name = pop(), module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail(`STACK_GLOBAL at byte ${at} takes two strings`);
        push(global(module, name));
        break;
      }
      case 0x51: { // BINPERSID: torch's persistent id ('storage', type, key, location, numel) names a zip entry
        const pid = pop();
        const [tag, type, key, , numel] = pid instanceof Tuple ? pid.items : [];
        if (!(pid instanceof Tuple) || pid.items.length !== 5 || tag !== 'storage' || !(type instanceof Global) || type.role.kind !== 'storage' ||
            typeof key !== 'string' || typeof pid.items[3] !== 'string' || !isInt(numel) || numel < 0) {
          fail(`the persistent id at byte ${at} is not ('storage', type, key, location, numel)`);
        }
        push(loadStorage(key, type.role.dtype, numel));
        break;
      }
      case 0x52: { // REDUCE: call f(*args). Only the recipes in ALLOWED run, and they only build values.
        const args = pop(), f = pop();
        if (!(f instanceof Global) || f.role.kind !== 'function') fail(`byte ${at} calls ${describe(f)}, which is not a function torch.save uses`);
        if (!(args instanceof Tuple)) fail(`byte ${at} calls ${f.name} with ${describe(args)}, not a tuple of arguments`);
        const rebuild = f.role.rebuild;
        push(rebuild(args.items, (problem) => fail(`byte ${at}: ${problem}`)));
        break;
      }
      case 0x81: { // NEWOBJ: cls.__new__(cls, *args); only argparse.Namespace, with no arguments
        const args = pop(), cls = pop();
        if (!(cls instanceof Global) || cls.role.kind !== 'namespace' || !(args instanceof Tuple) || args.items.length !== 0) {
          fail(`byte ${at} creates an object of ${describe(cls)}; the one class ditto recognises is argparse.Namespace`);
        }
        push(new Namespace());
        break;
      }
      case 0x62: { // BUILD: set an object's attributes from a dict; the attributes are dropped, never read
        const state = pop(), obj = top();
        if (!(obj instanceof Namespace || obj instanceof Dict) || !(state instanceof Dict)) {
          fail(`byte ${at} sets the state of ${describe(obj)} from ${describe(state)}`);
        }
        break;
      }
      default:
        if (REFUSED_OPCODES[op]) {
          throw new UserError(`${where}: byte ${at} is the pickle opcode ${REFUSED_OPCODES[op]}, which ditto refuses: torch.save never writes it, and it would run code: this is not a plain checkpoint`);
        }
        fail(`byte ${at} is the opcode 0x${op.toString(16).padStart(2, '0')}, which torch.save does not write`);
    }
  }
}
