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

test('the exp and row opcodes: f32 constants and arithmetic, lane extraction, nearest, saturating truncation, i32x4 shifts, NaN-propagating min/max', () => {
  const memory = new api.Memory({ initial: 1 });
  const m = new ModuleBuilder()
    .importMemory({ module: 'env', name: 'memory', minPages: 1 })
    // The scalar ops: (x - 1.25) / 2 + max(x, -0.5) + sqrt(x).
    .function('scalar', ['f32'], ['f32'], (f) => {
      const x = f.param(0, 'f32');
      f.get(x).f32Const(1.25).f32Sub().f32Const(2).f32Div().get(x).f32Const(-0.5).f32Max().f32Add().get(x).f32Sqrt().f32Add();
    })
    // Op number `op` on the vectors at p and p + 16, stored at out.
    .function('vector', ['i32', 'i32', 'i32'], [], (f) => {
      const p = f.param(0, 'i32'), op = f.param(1, 'i32'), out = f.param(2, 'i32');
      const v = f.local('v128'), w = f.local('v128');
      f.get(p).v128Load(0).set(v);
      f.get(p).v128Load(16).set(w);
      const ops: (() => void)[] = [
        () => f.get(v).f32x4Nearest(),
        () => f.get(v).i32x4TruncSatF32x4S(),
        () => f.get(v).i32x4TruncSatF32x4S().i32Const(3).i32x4Shl().i32Const(5).i32x4Splat().i32x4Add(),
        () => f.get(v).get(w).f32x4Sub(),
        () => f.get(v).get(w).f32x4Div(),
        () => f.get(v).get(w).f32x4Min(),
        () => f.get(v).get(w).f32x4Max(),
      ];
      ops.forEach((emit, i) => {
        f.block(() => {
          f.get(op).i32Const(i).i32Ne().brIf(0);
          f.get(out);
          emit();
          f.v128Store(0);
        });
      });
    })
    .function('lane', ['i32', 'i32'], ['f32'], (f) => {
      const p = f.param(0, 'i32'), l = f.param(1, 'i32');
      // extract_lane takes its lane as an immediate: one branch per lane.
      for (let lane = 0; lane < 4; lane++) {
        f.block(() => {
          f.get(l).i32Const(lane).i32Ne().brIf(0);
          f.get(p).get(p).v128Load(0).f32x4ExtractLane(lane).f32Store(16);
        });
      }
      f.get(p).f32Load(16);
    });
  const e = instantiate(m, memory);
  const heap = new Float32Array(memory.buffer), ints = new Int32Array(memory.buffer);
  assert.is(e.scalar(9), (9 - 1.25) / 2 + 9 + 3);
  assert.ok(Number.isNaN(e.scalar(-4)), 'sqrt(-4)');
  const run = (op: number, v: number[], w: number[] = [1, 1, 1, 1]) => {
    heap.set([...v, ...w], 0);
    e.vector(0, op, 64);
    return { f: Array.from(heap.subarray(16, 20)), i: Array.from(ints.subarray(16, 20)) };
  };
  assert.equal(run(0, [2.5, -1.5, 0.49, -3.7]).f, [2, -2, 0, -4], 'nearest, ties to even');
  assert.equal(run(1, [NaN, 1e10, -1e10, -7.9]).i, [0, 2147483647, -2147483648, -7], 'trunc_sat');
  assert.equal(run(2, [1, -2, 3, 0]).i, [13, -11, 29, 5], '(n << 3) + 5');
  assert.equal(run(3, [5, 1, 0, -2], [1, 2, 3, 4]).f, [4, -1, -3, -6], 'sub');
  assert.equal(run(4, [1, 3, -8, 0], [4, 2, 2, 5]).f, [0.25, 1.5, -4, 0], 'div');
  const min = run(5, [1, NaN, -3, 4], [2, 0, -4, NaN]).f, max = run(6, [1, NaN, -3, 4], [2, 0, -4, NaN]).f;
  assert.equal([min[0], min[2], max[0], max[2]], [1, -4, 2, -3]);
  assert.ok([min[1], min[3], max[1], max[3]].every(Number.isNaN), 'min/max propagate NaN');
  heap.set([10, 20, 30, 40], 0);
  assert.equal([0, 1, 2, 3].map((l) => e.lane(0, l)), [10, 20, 30, 40]);
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
