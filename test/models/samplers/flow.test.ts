// Reference times were computed once with /usr/bin/python3:
//   t = np.linspace(1, 0, steps + 1); mu = 0.5 + (tokens - 256) * (1.15 - 0.5) / (4096 - 256)
//   t' = math.exp(mu) / (math.exp(mu) + (1 / t - 1)), with t = 0 kept at 0.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UserError } from '../../../core/errors.js';
import { readSafetensorsF32 } from '../../../core/safetensors.js';
import { eulerFlow, flowMu, flowTimes } from '../../../models/samplers/flow.js';
import { fixture } from '../../backends.js';

function closeArr(actual: number[], expected: number[], tol = 1e-12): void {
  assert.is(actual.length, expected.length);
  actual.forEach((v, i) =>
    assert.ok(Math.abs(v - expected[i]!) <= tol, `index ${i}: expected ${expected[i]}, got ${v}`),
  );
}

test('unshifted times are linspace(1, 0, steps + 1)', () => {
  assert.equal(flowTimes(4), [1, 0.75, 0.5, 0.25, 0]);
  assert.equal(flowTimes(1), [1, 0]);
});

test('mu is the line through (256, 0.5) and (4096, 1.15)', () => {
  assert.is(flowMu(256), 0.5);
  assert.ok(Math.abs(flowMu(4096) - 1.15) < 1e-15);
  assert.ok(Math.abs(flowMu(1024) - 0.63) < 1e-15);
});

test('shifted times, 4 steps, 256 tokens', () => {
  const ts = flowTimes(4, { shiftTokens: 256 });
  closeArr(ts, [1, 0.8318243439635804, 0.6224593312018546, 0.3546612443924434, 0]);
  // the rounded check from the spec
  closeArr(ts, [1, 0.831824, 0.622459, 0.354661, 0], 5e-7);
  assert.is(ts[0], 1);
  assert.is(ts[4], 0);
});

test('shifted times, 4096 and 1024 tokens', () => {
  closeArr(flowTimes(4, { shiftTokens: 4096 }), [1, 0.9045307667386396, 0.7595109169491111, 0.5128441015091338, 0]);
  closeArr(flowTimes(3, { shiftTokens: 1024 }), [1, 0.7897048388156547, 0.4842184486768555, 0]);
});

test('Euler coefficients: xCoef = 1, outCoef = t_next - t, model time = 1000 t', () => {
  const s = eulerFlow(4, { shiftTokens: 256 });
  const ts = flowTimes(4, { shiftTokens: 256 });
  assert.is(s.name, 'euler-flow');
  assert.is(s.predicts, 'velocity');
  assert.is(s.steps, 4);
  for (let i = 0; i < 4; i++) {
    const st = s.step(i);
    assert.is(st.xCoef, 1);
    assert.is(st.outCoef, ts[i + 1]! - ts[i]!);
    assert.is(st.modelTime, ts[i]! * 1000);
    assert.ok(st.outCoef < 0);
  }
  assert.is(s.step(0).modelTime, 1000);
  const plain = eulerFlow(4);
  assert.equal(
    [0, 1, 2, 3].map((i) => plain.step(i)),
    [
      { modelTime: 1000, xCoef: 1, outCoef: -0.25 },
      { modelTime: 750, xCoef: 1, outCoef: -0.25 },
      { modelTime: 500, xCoef: 1, outCoef: -0.25 },
      { modelTime: 250, xCoef: 1, outCoef: -0.25 },
    ],
  );
  assert.throws(() => s.step(4), RangeError);
});

test('Euler with the exact velocity lands on x0', () => {
  // x_t is linear in t, so one Euler step with v = noise - x0 moves exactly along the line; the outCoefs
  // sum to -1 (telescoping t_next - t from 1 to 0), which takes x_1 = noise to x0.
  const x0 = [0.7, -1.3, 0.05, 2.2];
  const noise = [-0.4, 1.1, 0.9, -2.0];
  const v = noise.map((n, j) => n - x0[j]!);
  for (const [steps, tokens] of [[1, undefined], [4, undefined], [4, 256], [28, 4096], [50, 1024]] as const) {
    const s = eulerFlow(steps, tokens === undefined ? {} : { shiftTokens: tokens });
    let x = noise.slice();
    for (let i = 0; i < s.steps; i++) {
      const { xCoef, outCoef } = s.step(i);
      x = x.map((xv, j) => xCoef * xv + outCoef * v[j]!);
    }
    x.forEach((xv, j) =>
      assert.ok(Math.abs(xv - x0[j]!) < 1e-12, `steps=${steps} tokens=${tokens} [${j}]: ${xv} vs ${x0[j]}`),
    );
  }
});

test('bad step counts and token counts throw UserError', () => {
  for (const s of [0, -3, 1.5, NaN]) {
    assert.throws(() => flowTimes(s), (e: unknown) => e instanceof UserError, `steps=${s}`);
    assert.throws(() => eulerFlow(s), (e: unknown) => e instanceof UserError, `steps=${s}`);
  }
  for (const t of [0, -5, NaN, Infinity]) {
    assert.throws(() => flowTimes(4, { shiftTokens: t }), (e: unknown) => e instanceof UserError, `tokens=${t}`);
  }
});

test("equal the official FLUX get_schedule (float32) for every fixture's steps and sequence length", () => {
  const expected = readSafetensorsF32(fixture('flux/flux-schedule.expected.safetensors')).tensors;
  for (const [name, { data }] of expected) {
    const shifted = /^schedule\.(\d+)\.(\d+)$/.exec(name);
    const plain = /^schedule_noshift\.(\d+)$/.exec(name);
    const times = shifted ? flowTimes(Number(shifted[1]), { shiftTokens: Number(shifted[2]) }) : flowTimes(Number(plain![1]));
    assert.is(times.length, data.length, name);
    const worst = Math.max(...times.map((t, i) => Math.abs(t - data[i])));
    assert.ok(worst <= 1e-6, `${name}: max difference ${worst}`);
  }
});

test.run();
