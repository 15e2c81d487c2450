import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UserError } from '../../../core/errors.js';
import { writeSafetensors } from '../../../core/safetensors.js';
import { makeTrajectories, readTrajectories, stepOutput } from '../../../predictors/fit/trajectories.js';
import { fixture } from '../../backends.js';

const tmp = (name: string) => join(tmpdir(), `ditto-traj-${process.pid}-${name}`);
const userError = (pattern: RegExp) => (e: Error) => e instanceof UserError && pattern.test(e.message) && !e.message.includes('\n');

test('reads [B, S, ...] and flattens each step', () => {
  const t = readTrajectories(fixture('l2p-adam.safetensors'));
  assert.equal([t.batch, t.steps, t.size, t.elementShape], [6, 20, 48, [48]]);
  const m = makeTrajectories(Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => i), [2, 3, 2, 2]);
  assert.equal(Array.from(stepOutput(m, 1, 2)), [20, 21, 22, 23]);
});

test('NaN, wrong ranks, too few steps, a missing tensor and integer data are one-line errors', () => {
  const nan = new Float32Array(2 * 4 * 3);
  nan[17] = NaN;
  assert.throws(() => makeTrajectories(nan, [2, 4, 3], 'T'), userError(/trajectory 1, step 1 holds NaN/));
  const inf = new Float32Array(12);
  inf[0] = Infinity;
  assert.throws(() => makeTrajectories(inf, [1, 4, 3], 'T'), userError(/holds Infinity/));
  assert.throws(() => makeTrajectories(new Float32Array(12), [4, 3], 'T'), userError(/expected \[B, S, \.\.\.\]/));
  assert.throws(() => makeTrajectories(new Float32Array(6), [1, 2, 3], 'T'), userError(/only 2 steps; fitting needs at least 3/));

  writeSafetensors(tmp('a.safetensors'), { features: { dtype: 'F32', shape: [3, 2], data: new Float32Array(6) } });
  assert.throws(() => readTrajectories(tmp('a.safetensors')), userError(/no tensor "trajectories" \(the file has "features"\)/));
  writeSafetensors(tmp('b.safetensors'), { trajectories: { dtype: 'I32', shape: [1, 3, 2], data: new Int32Array(6) } });
  assert.throws(() => readTrajectories(tmp('b.safetensors')), userError(/must be floating point/));
});

test.run();
