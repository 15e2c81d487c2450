// `ditto fit` end to end: the official-format file it writes, the PyTorch Adam reference, and one-line errors.

import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { main } from '../../cli/main.js';
import { writeSafetensors } from '../../core/safetensors.js';
import { readWeightsFile } from '../../predictors/l2p.js';
import { fixture } from '../backends.js';
import { capture, expectUserErrors } from './harness.js';

const tmp = (name: string) => join(tmpdir(), `ditto-fit-${process.pid}-${name}`);
const T = fixture('l2p-adam.safetensors');

test('fit adam writes the official format and reproduces PyTorch within 1e-3', async () => {
  const out = tmp('adam.json');
  const { io, out: lines, err } = capture();
  assert.is(await main(['fit', '--trajectories', T, '--method', 'adam', '--out', out], io), 0);
  const text = readFileSync(out, 'utf8');
  assert.ok(text.startsWith('[[') && text.trimEnd().endsWith(']]'));
  const w = readWeightsFile(out, 20);
  const torch = readWeightsFile(fixture('l2p-adam.weights.json'), 20);
  let max = 0;
  w.forEach((row, r) => row.forEach((v, j) => (max = Math.max(max, Math.abs(v - torch[r]![j]!)))));
  assert.ok(max < 1e-3, `max difference ${max}`);
  assert.match(err.join('\n'), /adam step 200\/200: loss/);
  assert.match(lines.join('\n'), /one-step loss with the true history/);
});

test('--json summaries: lstsq beats reuse; direct reports its schedule and beats reuse on the rollout', async () => {
  const { io, out } = capture();
  assert.is(await main(['fit', '--trajectories', T, '--method', 'lstsq', '--out', tmp('ls.json'), '--json'], io), 0);
  const s = JSON.parse(out[0]!);
  assert.ok(s.loss < s.reuse_loss);
  assert.equal(s.trajectories, [6, 20, 48]);
  const d = capture();
  assert.is(await main(['fit', '--trajectories', T, '--method', 'direct', '--interval', '4', '--schedule', 'taylorseer', '--out', tmp('d.json'), '--json'], d.io), 0);
  const sd = JSON.parse(d.out[0]!);
  assert.equal(sd.full_steps, [0, 1, 2, 6, 10, 14, 18]);
  assert.ok(sd.rollout.mean_error < sd.rollout.reuse_mean_error);
});

test('user mistakes end in one line on stderr and exit code 1', async () => {
  const nan = tmp('nan.safetensors'), short = tmp('short.safetensors'), named = tmp('named.safetensors'), notJson = tmp('x.json');
  const data = new Float32Array(2 * 5 * 3);
  data[7] = NaN;
  writeSafetensors(nan, { trajectories: { dtype: 'F32', shape: [2, 5, 3], data } });
  writeSafetensors(short, { trajectories: { dtype: 'F32', shape: [2, 2, 3], data: new Float32Array(12) } });
  writeSafetensors(named, { features: { dtype: 'F32', shape: [5, 3], data: new Float32Array(15) } });
  writeFileSync(notJson, 'x');
  const out = ['--out', tmp('o.json')];
  const cases: [string[], RegExp][] = [
    [['fit', '--trajectories', nan, '--method', 'lstsq', ...out], /trajectory 0, step 2 holds NaN/],
    [['fit', '--trajectories', short, '--method', 'lstsq', ...out], /only 2 steps; fitting needs at least 3/],
    [['fit', '--trajectories', named, '--method', 'lstsq', ...out], /no tensor "trajectories"/],
    [['fit', '--trajectories', T, '--method', 'direct', ...out], /fit direct fits one schedule: pass --interval N or --full-steps/],
    [['fit', '--trajectories', T, '--method', 'direct', '--full-steps', '2,5', ...out], /must start at step 0/],
    [['fit', '--trajectories', T, '--method', 'direct', '--interval', '5', ...out], /paper's schedules are for 50 steps, not 20/],
    [['fit', '--trajectories', T, '--method', 'lstsq', '--adam-steps', '10', ...out], /--adam-steps and --lr are Adam's settings/],
    [['fit', '--trajectories', T, '--method', 'adam', '--lr', '-1', ...out], /--lr must be positive|argument is ambiguous/],
    [['fit', '--trajectories', T, '--method', 'sgd', ...out], /unknown fit method "sgd"/],
    [['fit', '--trajectories', T, '--method', 'adam'], /missing --out/],
  ];
  await expectUserErrors(cases);
});

test.run();
