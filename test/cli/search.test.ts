// `ditto search` on the bundled model with few steps: the searched schedule scores at least the
// official one (both sampled on the calibration seeds), a rerun resumes from the log without sampling,
// and `sample --schedule` takes the file.

import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { main } from '../../cli/main.js';
import { capture, expectUserErrors } from './harness.js';

const tmp = (name: string) => join(tmpdir(), `ditto-search-${process.pid}-${name}`);
const SEARCH = ['search', '--method', 'taylorseer', '--full-steps', '4', '--steps', '10', '--seeds', '2', '--evaluations', '4', '--backend', 'cpu'];

test('a schedule no worse than the official one, written with its record; a rerun reads the log back', async () => {
  const out = tmp('S.json');
  rmSync(`${out}.log`, { force: true });
  const first = capture();
  assert.is(await main([...SEARCH, '--out', out, '--json'], first.io), 0);
  const summary = JSON.parse(first.out[0]!);
  const file = JSON.parse(readFileSync(out, 'utf8'));
  // TaylorSeer N=4 over 10 steps: 0 1 2, then 6.
  assert.equal(file.official.full_steps, [0, 1, 2, 6]);
  assert.is(file.full_steps.length, 4);
  assert.is(file.full_steps[0], 0);
  assert.ok(file.score_db >= file.official.score_db, `${file.score_db} >= ${file.official.score_db}`);
  assert.equal([file.method, file.steps, file.evaluations], ['taylorseer', 10, 4]);
  assert.equal(summary.full_steps, file.full_steps);
  // The log: a header, then one line per evaluation.
  assert.is(readFileSync(`${out}.log`, 'utf8').trim().split('\n').length, 5);

  const again = capture();
  assert.is(await main([...SEARCH, '--out', out, '--json'], again.io), 0);
  assert.ok(again.err.some((l) => l.startsWith('resuming: 4 evaluations read back')), again.err.join('\n'));
  assert.equal(JSON.parse(again.out[0]!).full_steps, file.full_steps);
  assert.is(readFileSync(`${out}.log`, 'utf8').trim().split('\n').length, 5);

  const sampled = capture();
  assert.is(await main(['sample', '--class', '1', '--steps', '10', '--schedule', out, '--out', tmp('s.png'), '--json'], sampled.io), 0);
  const s = JSON.parse(sampled.out[0]!);
  assert.equal([s.full_steps, s.skipped_steps], [4, 6]);
  assert.is(s.cache, 'taylorseer');
});

test('mistakes are one line each', async () => {
  const out = tmp('bad.json');
  await expectUserErrors([
    [['search', '--method', 'l2p', '--full-steps', '0,1,2', '--out', out], /--full-steps is the NUMBER of steps that run the model/],
    [['search', '--method', 'fora', '--full-steps', '10', '--steps', '10', '--out', out], /--full-steps 10: choose from 1 to 9 of the 10 steps/],
    [['search', '--method', 'fora', '--full-steps', '3', '--weights', 'W.json', '--out', out], /--weights is L2P's matrix: --method fora takes none/],
    [['search', '--method', 'magic', '--full-steps', '3', '--out', out], /unknown --method "magic"/],
    [['search', '--method', 'fora', '--full-steps', '3', '--evaluations', '0', '--out', out], /--evaluations must be a positive integer/],
    [['sample', '--class', '1', '--schedule', 'nightly', '--out', tmp('x.png')], /unknown --schedule "nightly": use paper or taylorseer \(with --interval\), or a schedule file/],
    [['sample', '--class', '1', '--schedule', tmp('missing.json'), '--out', tmp('x.png')], /missing\.json/],
  ]);
});

test.run();
