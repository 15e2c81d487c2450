// The loss and gradient from the Gram matrix against the official loss computed directly on the data.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gramMatrices } from '../../../predictors/fit/gram.js';
import { errorCount, teacherForcedGradient, teacherForcedLoss } from '../../../predictors/fit/objective.js';
import { makeTrajectories } from '../../../predictors/fit/trajectories.js';
import { randomLowerTriangular, smoothFeatures } from '../official.js';

const B = 3, S = 7, D = 11;
const runs = [0, 1, 2].map((b) => smoothFeatures(S, D, 60 + b));
const data = new Float32Array(B * S * D);
runs.forEach((r, b) => r.forEach((x, s) => data.set(x, (b * S + s) * D)));
const { total: g } = gramMatrices(makeTrajectories(data, [B, S, D]));
const n = errorCount(B, S, D);

/** mean(((W*mask) @ x)[:, :-1] - x[:, 1:])^2, literally. */
function directLoss(w: number[][]): number {
  let sum = 0;
  for (let b = 0; b < B; b++) {
    for (let r = 0; r < S - 1; r++) {
      for (let d = 0; d < D; d++) {
        let pred = 0;
        for (let j = 0; j <= r; j++) pred += w[r]![j]! * runs[b]![j]![d]!;
        sum += (pred - runs[b]![r + 1]![d]!) ** 2;
      }
    }
  }
  return sum / (B * (S - 1) * D);
}

/** The analytic gradient of directLoss, computed on the data: (2/n) sum residual * x_j. */
function directGradient(w: number[][]): number[][] {
  const grad = Array.from({ length: S }, () => new Array<number>(S).fill(0));
  for (let b = 0; b < B; b++) {
    for (let r = 0; r < S - 1; r++) {
      for (let d = 0; d < D; d++) {
        let pred = 0;
        for (let j = 0; j <= r; j++) pred += w[r]![j]! * runs[b]![j]![d]!;
        const res = pred - runs[b]![r + 1]![d]!;
        for (let j = 0; j <= r; j++) grad[r]![j] += (2 / n) * res * runs[b]![j]![d]!;
      }
    }
  }
  return grad;
}

test('the loss from G equals the official loss computed on the data', () => {
  const w = randomLowerTriangular(S, 3);
  const a = teacherForcedLoss(g, S, w, n), b = directLoss(w);
  assert.ok(Math.abs(a - b) <= 1e-9 * b, `${a} vs ${b}`);
});

test('the gradient from G equals the gradient on the data, and finite differences of the loss', () => {
  const w = randomLowerTriangular(S, 4);
  const fromG = teacherForcedGradient(g, S, w, n);
  const direct = directGradient(w);
  let scale = 0;
  for (const row of direct) for (const v of row) scale = Math.max(scale, Math.abs(v));
  for (let r = 0; r < S; r++) {
    for (let j = 0; j < S; j++) {
      assert.ok(Math.abs(fromG[r]![j]! - direct[r]![j]!) <= 1e-9 * scale, `${r},${j}`);
      if (j > r || r === S - 1) assert.is(fromG[r]![j], 0, 'upper triangle and last row: zero gradient');
    }
  }
  const h = 1e-6;
  for (const [r, j] of [[0, 0], [3, 1], [5, 5]] as const) {
    const plus = w.map((row) => [...row]), minus = w.map((row) => [...row]);
    plus[r]![j] += h;
    minus[r]![j] -= h;
    const fd = (directLoss(plus) - directLoss(minus)) / (2 * h);
    assert.ok(Math.abs(fd - fromG[r]![j]!) <= 1e-5 * Math.max(1e-3, Math.abs(fd)), `fd ${r},${j}: ${fd} vs ${fromG[r]![j]}`);
  }
});

test.run();
