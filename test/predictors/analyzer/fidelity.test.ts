import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fidelityFromGram, projectionFidelity } from '../../../predictors/analyzer/fidelity.js';
import { trajectoryGram } from '../../../predictors/fit/gram.js';
import { makeTrajectories, stepOutput } from '../../../predictors/fit/trajectories.js';
import { randn } from '../../reference.js';

/** 1 - ||F_t - Proj F_t|| / ||F_t|| by explicit least squares on the vectors (modified Gram-Schmidt). */
function explicitFidelity(vecs: Float32Array[]): number[] {
  const basis: Float64Array[] = [];
  return vecs.map((v) => {
    const r = Float64Array.from(v);
    for (const q of basis) {
      const dot = r.reduce((a, x, k) => a + x * q[k]!, 0);
      r.forEach((_, k) => (r[k] -= dot * q[k]!));
    }
    const res = Math.hypot(...r), norm = Math.hypot(...v);
    if (res > 1e-7 * norm) basis.push(r.map((x) => x / res));
    return 1 - res / norm;
  });
}

test('fidelity from the Gram matrix equals explicit projection, per run', () => {
  const B = 2, S = 6, D = 10;
  const data = randn(B * S * D, 12);
  // make step 4 of run 0 nearly a combination of steps 1 and 2
  const noise = randn(D, 99);
  for (let d = 0; d < D; d++) data[4 * D + d] = 0.7 * data[1 * D + d]! - 0.2 * data[2 * D + d]! + 1e-3 * noise[d]!;
  const t = makeTrajectories(data, [B, S, D]);
  for (let b = 0; b < B; b++) {
    const got = fidelityFromGram(trajectoryGram(t, b), S);
    const want = explicitFidelity(Array.from({ length: S }, (_, s) => stepOutput(t, b, s)));
    got.forEach((f, s) => assert.ok(Math.abs(f - want[s]!) < 1e-6, `run ${b} step ${s}: ${f} vs ${want[s]}`));
    assert.is(got[0], 0, 'step 0: empty span');
  }
  const report = projectionFidelity(t, 0.95);
  assert.ok(report.min[4]! < 0.95 && report.max[4]! > 0.99, 'run 0 is nearly in the span at step 4, run 1 is not');
  assert.ok(Math.abs(report.mean[4]! - (report.min[4]! + report.max[4]!) / 2) < 1e-12);
});

test.run();
