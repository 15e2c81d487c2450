// kernels/cpu/wasm/module.ts: the bytes it writes are modules the runtime validates and runs as meant
// (LEB128 immediates of every size and sign, locals, loops, memory, the SIMD opcodes).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ModuleBuilder, wasm, type WasmApi } from '../../../../kernels/cpu/wasm/module.js';

const api = wasm as WasmApi;

function instantiate(m: ModuleBuilder, memory?: object): Record<string, (...args: number[]) => number> {
  const bytes = m.build();
  assert.ok(api.validate(bytes), 'the module validates');
  const imports: Record<string, Record<string, unknown>> = memory ? { env: { memory } } : {};
  return new api.Instance(new api.Module(bytes), imports).exports as Record<string, (...args: number[]) => number>;
}

test('i32 arithmetic with constants of every LEB128 length and sign', () => {
  const consts = [0, 1, -1, 63, 64, -64, -65, 127, 128, 8191, 8192, -8193, 2 ** 20, -(2 ** 27), 2 ** 31 - 1, -(2 ** 31)];
  const m = new ModuleBuilder();
  consts.forEach((c, i) => m.function(`c${i}`, ['i32'], ['i32'], (f) => { f.get(f.param(0, 'i32')).i32Const(c).i32Add(); }));
  m.function('mulsub', ['i32', 'i32', 'i32'], ['i32'], (f) => {
    f.get(f.param(0, 'i32')).get(f.param(1, 'i32')).i32Mul().get(f.param(2, 'i32')).i32Sub();
  });
  const e = instantiate(m);
  consts.forEach((c, i) => assert.is(e[`c${i}`](5), (5 + c) | 0, `5 + ${c}`));
  assert.is(e.mulsub(6, 7, 2), 40);
});

test('locals, a loop with br_if and a block with br: the sum 1..n', () => {
  const m = new ModuleBuilder().function('sum', ['i32'], ['i32'], (f) => {
    const n = f.param(0, 'i32');
    const acc = f.local('i32');
    f.block(() => {
      f.get(n).i32Eqz().brIf(0);
      f.loop(() => {
        f.get(acc).get(n).i32Add().set(acc);
        f.get(n).i32Const(1).i32Sub().tee(n).i32Const(0).i32Ne().brIf(0);
      });
    });
    f.get(acc);
  });
  const e = instantiate(m);
  assert.is(e.sum(0), 0);
  assert.is(e.sum(1), 1);
  assert.is(e.sum(100), 5050);
});

test('an imported memory: f32 and f32x4 loads, stores, splat, mul, add', () => {
  const memory = new api.Memory({ initial: 1 });
  const m = new ModuleBuilder()
    .importMemory({ module: 'env', name: 'memory', minPages: 1 })
    // out[0..4] = a[0..4] * s + b[0..4] where s is the f32 at p; then out[4] = a[0] * a[1] + out[0].
    .function('axpy', ['i32', 'i32', 'i32', 'i32'], [], (f) => {
      const a = f.param(0, 'i32'), b = f.param(1, 'i32'), p = f.param(2, 'i32'), out = f.param(3, 'i32');
      const s = f.local('v128');
      f.get(p).f32Load().f32x4Splat().set(s);
      f.get(out).get(a).v128Load().get(s).f32x4Mul().get(b).v128Load().f32x4Add().v128Store();
      f.get(out).get(a).f32Load().get(a).f32Load(4).f32Mul().get(out).f32Load().f32Add().f32Store(16);
    })
    .function('splat', ['i32', 'i32'], [], (f) => {
      const p = f.param(0, 'i32'), out = f.param(1, 'i32');
      f.get(out).get(p).v128Load32Splat(4).v128Store(16);
    });
  const e = instantiate(m, memory);
  const heap = new Float32Array(memory.buffer);
  heap.set([1, 2, 3, 4, 10, 20, 30, 40, 0.5]);
  e.axpy(0, 16, 32, 64);
  assert.equal(Array.from(heap.subarray(16, 21)), [10.5, 21, 31.5, 42, 2 + 10.5]);
  e.splat(0, 128);
  assert.equal(Array.from(heap.subarray(36, 40)), [2, 2, 2, 2]);
});

test('a shared memory import validates and instantiates against a shared WebAssembly.Memory', () => {
  const memory = new api.Memory({ initial: 1, maximum: 4, shared: true });
  const m = new ModuleBuilder()
    .importMemory({ module: 'env', name: 'memory', minPages: 1, maxPages: 4, shared: true })
    .function('store', ['i32'], [], (f) => { f.i32Const(0).get(f.param(0, 'i32')).v128Load32Splat().v128Store(); });
  const e = instantiate(m, memory);
  const heap = new Float32Array(memory.buffer);
  heap[8] = 7;
  e.store(32);
  assert.equal(Array.from(heap.subarray(0, 4)), [7, 7, 7, 7]);
  assert.ok(memory.buffer instanceof SharedArrayBuffer);
  assert.throws(() => new ModuleBuilder().importMemory({ module: 'env', name: 'memory', minPages: 1, shared: true }), /shared memory needs maxPages/);
});

test('misuse is caught while building: a parameter of the wrong type, a constant out of range', () => {
  assert.throws(() => new ModuleBuilder().function('f', ['i32'], [], (f) => { f.param(0, 'v128'); }), /parameter 0 is i32, not v128/);
  assert.throws(() => new ModuleBuilder().function('f', [], [], (f) => { f.i32Const(2 ** 31); }), /not an i32/);
});

test.run();
