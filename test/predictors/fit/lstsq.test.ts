import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fitAdam } from '../../../predictors/fit/adam.js';
import { gramMatrices } from '../../../predictors/fit/gram.js';
import { fitLstsq } from '../../../predictors/fit/lstsq.js';
import { errorCount, teacherForcedLoss } from '../../../predictors/fit/objective.js';
import { makeTrajectories, readTrajectories } from '../../../predictors/fit/trajectories.js';
import { fixture } from '../../backends.js';

const t = readTrajectories(fixture('l2p-adam.safetensors'));
const S = t.steps;
const { total: g } = gramMatrices(t);
const n = errorCount(t.batch, S, t.size);
const { weights: w } = fitLstsq(g, S);

test('every row satisfies its normal equations G[:t,:t] w = G[:t,t]', () => {
  for (let tt = 1; tt < S; tt++) {
    let scale = 0;
    for (let j = 0; j < tt; j++) scale = Math.max(scale, Math.abs(g[j * S + tt]!));
    for (let i = 0; i < tt; i++) {
      let lhs = 0;
      for (let j = 0; j < tt; j++) lhs += g[i * S + j]! * w[tt - 1]![j]!;
      assert.ok(Math.abs(lhs - g[i * S + tt]!) <= 1e-6 * scale, `row ${tt - 1}, equation ${i}`);
    }
    for (let j = tt; j < S; j++) assert.is(w[tt - 1]![j], 0);
  }
  assert.equal(w[S - 1]![S - 1], 1, 'the last row keeps the official init');
});

test("the loss is at most Adam's (200 or 2000 steps), and any perturbation raises it", () => {
  const loss = teacherForcedLoss(g, S, w, n);
  for (const steps of [200, 2000]) assert.ok(loss <= fitAdam(g, S, n, { steps }).finalLoss, `adam ${steps}`);
  let seed = 1;
  const u = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0), seed / 4294967296 - 0.5);
  for (let trial = 0; trial < 50; trial++) {
    const p = w.map((row) => [...row]);
    const r = Math.floor((u() + 0.5) * (S - 1)), j = Math.floor((u() + 0.5) * (r + 1));
    p[r]![j] += 1e-3 * Math.sign(u());
    assert.ok(teacherForcedLoss(g, S, p, n) > loss, `W[${r}][${j}]`);
  }
});

test('50 trajectories of a 4x32x32 output at 50 steps fit in under 2 s (the Gram matrix is the only pass over the data)', () => {
  const B = 50, steps = 50, D = 4 * 32 * 32;
  const data = new Float32Array(B * steps * D);
  let seed = 7;
  const u = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0), seed / 4294967296 - 0.5);
  for (let b = 0; b < B; b++) {
    for (let d = 0; d < D; d++) {
      const a1 = u(), a2 = u(), p = 6 * u();
      for (let s = 0; s < steps; s++) data[(b * steps + s) * D + d] = a1 * Math.cos((3 * s) / steps + p) + a2 * Math.sin((7 * s) / steps) + 0.01 * u();
    }
  }
  const started = performance.now();
  const big = makeTrajectories(data, [B, steps, 4, 32, 32]);
  const fit = fitLstsq(gramMatrices(big).total, steps);
  const seconds = (performance.now() - started) / 1000;
  assert.is(fit.weights.length, 50);
  assert.ok(seconds < 2, `${seconds.toFixed(2)} s`);
});

test.run();
