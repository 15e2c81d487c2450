import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { float64 } from '../../predictors/field.js';
import { rollout } from '../../predictors/rollout.js';
import { TaylorSeerPredictor, TaylorSeerRecursion, taylorSeerWeights } from '../../predictors/taylorseer.js';
import { maxRelError, officialRollout, OfficialTaylorSeer, smoothFeatures } from './official.js';
import { testSchedules } from './schedules.js';

const close = (a: number, b: number, tol = 1e-12) => Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));

test("even gaps: the recursion gives docs/method.md's m = 1..3 weights for every r = k/N", () => {
  const N = 5;
  const anchors = [25, 20, 15, 10]; // most recent first
  for (let k = 1; k <= 2 * N; k++) {
    const r = k / N;
    const expected: Record<number, number[]> = {
      1: [1 + r, -r],
      2: [1 + r + r ** 2 / 2, -r - r ** 2, r ** 2 / 2],
      3: [1 + r + r ** 2 / 2 + r ** 3 / 6, -r - r ** 2 - r ** 3 / 2, r ** 2 / 2 + r ** 3 / 2, -(r ** 3) / 6],
    };
    for (const m of [1, 2, 3]) {
      const w = taylorSeerWeights(float64, anchors, 25 + k, m);
      expected[m]!.forEach((want, j) => assert.ok(close(w.get(25 - j * N) ?? 0, want), `m=${m} r=${r} j=${j}: ${w.get(25 - j * N)} vs ${want}`));
      assert.ok(close([...w.values()].reduce((a, b) => a + b, 0), 1), 'sums to 1');
    }
  }
});

test('TaylorSeer is not Newton beyond m = 1: (2,-1), (2.5,-2,0.5) one gap ahead', () => {
  assert.equal([...taylorSeerWeights(float64, [8, 4], 12, 1)].sort(([a], [b]) => b - a).map(([, w]) => w), [2, -1]);
  assert.equal([...taylorSeerWeights(float64, [12, 8, 4], 16, 2)].sort(([a], [b]) => b - a).map(([, w]) => w), [2.5, -2, 0.5]);
  assert.throws(() => taylorSeerWeights(float64, [4, 8], 12, 1), /most recent first/);
});

test('orders grow by one per full step, and only from step 2 on', () => {
  const rec = new TaylorSeerRecursion(float64, 3);
  const levels: number[] = [];
  for (const s of [0, 1, 2, 4, 6, 9, 14]) {
    rec.full(s);
    levels.push(rec.levels);
  }
  // step 0: D0; step 1: no derivative yet (step < 2); step 2: D1 from (F2 - F1); then one more per full step, capped at m + 1
  assert.equal(levels, [1, 1, 2, 3, 4, 4, 4]);
  const w = new TaylorSeerRecursion(float64, 2);
  w.full(0);
  w.full(1);
  assert.equal([...w.forecast(2)], [[1, 1]], 'at step 1 no D1 is formed: plain reuse');
});

test('rollouts equal the official recursion run literally on arrays, on uneven schedules', () => {
  for (const schedule of testSchedules()) {
    const features = smoothFeatures(schedule.steps, 37, schedule.steps * 31 + schedule.fullSteps.length);
    for (const m of [0, 1, 2, 3, 4]) {
      const ours = rollout(features, schedule, new TaylorSeerPredictor(m)).outputs;
      const official = officialRollout(new OfficialTaylorSeer(m), features, schedule.isFull);
      const err = maxRelError(ours, official);
      assert.ok(err < 2e-6, `${schedule.label} m=${m}: relative error ${err}`);
    }
  }
});

test('live() keeps the last m + 1 full steps, which is all a forecast uses', () => {
  const p = new TaylorSeerPredictor(2);
  const full = new Set([0, 1, 2, 4, 6, 9]);
  for (let s = 0; s < 10; s++) {
    if (!full.has(s)) {
      const used = p.forecast(s).map((t) => t.step);
      const live = new Set(p.live());
      assert.ok(used.every((u) => live.has(u)), `step ${s}`);
    }
    p.observe(s, full.has(s));
  }
  assert.equal(p.live(), [9, 6, 4]);
});

test('misuse is a bug, reported as such', () => {
  const p = new TaylorSeerPredictor(1);
  assert.throws(() => p.observe(1, true), /expected step 0/);
  p.observe(0, true);
  assert.throws(() => p.forecast(3), /history ends at step 0/);
});

test.run();
