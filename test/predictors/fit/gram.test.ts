import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gramMatrices, trajectoryGram } from '../../../predictors/fit/gram.js';
import { makeTrajectories } from '../../../predictors/fit/trajectories.js';
import { randn } from '../../reference.js';

test('G[i][j] = sum over runs of <F(i), F(j)>, symmetric, per run on request', () => {
  const B = 3, S = 5, D = 7;
  const data = randn(B * S * D, 4);
  const t = makeTrajectories(data, [B, S, D]);
  const { total, perRun } = gramMatrices(t, { perRun: true });
  for (let i = 0; i < S; i++) {
    for (let j = 0; j < S; j++) {
      let want = 0;
      for (let b = 0; b < B; b++) for (let d = 0; d < D; d++) want += data[(b * S + i) * D + d]! * data[(b * S + j) * D + d]!;
      assert.ok(Math.abs(total[i * S + j]! - want) < 1e-9, `${i},${j}`);
      assert.is(total[i * S + j], total[j * S + i]);
    }
  }
  assert.is(perRun!.length, B);
  assert.equal(Array.from(perRun![1]!), Array.from(trajectoryGram(t, 1)));
});

test.run();
