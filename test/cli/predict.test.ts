// `ditto predict` end to end: the file it writes equals the official semantics rolled out
// independently, and user mistakes are one line on stderr with exit code 1.

import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { main } from '../../cli/main.js';
import { readSafetensorsF32, writeSafetensors } from '../../core/safetensors.js';
import { readTrajectories, stepOutput } from '../../predictors/fit/trajectories.js';
import { readWeightsFile, reuseWeights, writeWeightsFile } from '../../predictors/l2p.js';
import { explicitSchedule, taylorSeerSchedule } from '../../predictors/schedule.js';
import { fixture } from '../backends.js';
import { maxRelError, officialRollout, OfficialFoca, OfficialFora, OfficialL2P, OfficialTaylorSeer, smoothFeatures } from '../predictors/official.js';
import { capture, expectUserErrors } from './harness.js';

const tmp = (name: string) => join(tmpdir(), `ditto-predict-${process.pid}-${name}`);

// One run of the L2P fixture (20 steps x 48) as `features` [20, 6, 8].
const traj = readTrajectories(fixture('l2p-adam.safetensors'));
const S = traj.steps;
const features = Array.from({ length: S }, (_, s) => stepOutput(traj, 2, s));
const F = tmp('F.safetensors');
writeSafetensors(F, { features: { dtype: 'F32', shape: [S, 6, 8], data: Float32Array.from(features.flatMap((f) => [...f])) } });

async function predict(args: string[]): Promise<{ outputs: Float32Array[]; out: string[]; code: number }> {
  const o = tmp(`O-${args.join('_').replace(/[^\w]/g, '')}.safetensors`);
  const { io, out } = capture();
  const code = await main(['predict', '--features', F, '--out', o, ...args], io);
  const t = readSafetensorsF32(o).tensors.get('outputs')!;
  assert.equal(t.shape, [S, 6, 8]);
  return { outputs: Array.from({ length: S }, (_, s) => t.data.subarray(s * 48, (s + 1) * 48)), out, code };
}

test('every method writes F at full steps and the official rollout elsewhere', async () => {
  const uneven = explicitSchedule([0, 1, 2, 5, 6, 11, 15], S);
  const w = readWeightsFile(fixture('l2p-adam.weights.json'));
  const cases: [string[], () => ReturnType<typeof officialRollout>][] = [
    [['--method', 'fora', '--interval', '4'], () => officialRollout(new OfficialFora(), features, taylorSeerSchedule(4, S).isFull)],
    [['--method', 'taylorseer', '--order', '3', '--interval', '4'], () => officialRollout(new OfficialTaylorSeer(3), features, taylorSeerSchedule(4, S).isFull)],
    [['--method', 'taylorseer', '--full-steps', '0,1,2,5,6,11,15'], () => officialRollout(new OfficialTaylorSeer(2), features, uneven.isFull)],
    [['--method', 'foca', '--full-steps', '0,1,2,5,6,11,15'], () => officialRollout(new OfficialFoca(), features, uneven.isFull)],
    [['--method', 'l2p', '--weights', fixture('l2p-adam.weights.json'), '--full-steps', '0,1,2,5,6,11,15'], () => officialRollout(new OfficialL2P(w), features, uneven.isFull)],
  ];
  for (const [args, reference] of cases) {
    const { outputs, code, out } = await predict(args);
    assert.is(code, 0, args.join(' '));
    const err = maxRelError(outputs, reference());
    assert.ok(err < 2e-6, `${args.join(' ')}: ${err}`);
    assert.match(out.join('\n'), /relative error on the \d+ forecast steps/);
  }
});

test('--errors prints the per-step table; --json the summary', async () => {
  const { out } = await predict(['--method', 'foca', '--interval', '3', '--errors']);
  assert.match(out[0]!, /step\s+kind\s+terms\s+\|\|O-F\|\|\/\|\|F\|\|/);
  assert.match(out.join('\n'), /\n\s+3\s+forecast\s+3\s/);
  const j = await predict(['--method', 'taylorseer', '--interval', '3', '--json']);
  const summary = JSON.parse(j.out[0]!);
  assert.equal(summary.full_steps, [0, 1, 2, 5, 8, 11, 14, 17]);
  assert.is(summary.errors.length, S);
  assert.is(summary.errors[5], 0);
  assert.ok(summary.mean_error > 0 && summary.max_error >= summary.mean_error);
});

test('the paper schedule is the default for l2p with --interval (50 steps)', async () => {
  const F50 = tmp('F50.safetensors');
  writeSafetensors(F50, { features: { dtype: 'F32', shape: [50, 4], data: Float32Array.from(smoothFeatures(50, 4, 1).flatMap((f) => [...f])) } });
  const W50 = tmp('W50.json');
  writeWeightsFile(W50, reuseWeights(50));
  const { io, out } = capture();
  assert.is(await main(['predict', '--method', 'l2p', '--weights', W50, '--interval', '7', '--features', F50, '--out', tmp('O50.safetensors'), '--json'], io), 0);
  assert.equal(JSON.parse(out[0]!).full_steps, [0, 1, 2, 4, 9, 17, 26, 35, 43]);
  const { io: io2, err } = capture();
  assert.is(await main(['predict', '--method', 'l2p', '--weights', W50, '--interval', '9', '--features', F50, '--out', tmp('x.safetensors')], io2), 1);
  assert.match(err.at(-1)!, /no paper schedule for N=9: the supported ones are N = 5, 6, 7, 8, 10, 16/);
});

test('user mistakes end in one line on stderr and exit code 1', async () => {
  const notLower = tmp('upper.json'), big = tmp('big.json'), nanF = tmp('nan.safetensors'), noF = tmp('nof.safetensors'), rank1 = tmp('rank1.safetensors');
  const eye = (n: number): number[][] => Array.from({ length: n }, (_, r) => Array.from({ length: n }, (_, j) => (r === j ? 1 : 0)));
  const upper = eye(S);
  upper[3]![7] = 0.5;
  writeFileSync(notLower, JSON.stringify(upper));
  writeFileSync(big, JSON.stringify(eye(50)));
  const nanData = new Float32Array(S * 48);
  nanData[5 * 48 + 3] = NaN;
  writeSafetensors(nanF, { features: { dtype: 'F32', shape: [S, 48], data: nanData } });
  writeSafetensors(noF, { trajectories: { dtype: 'F32', shape: [1, S, 48], data: new Float32Array(S * 48) } });
  writeSafetensors(rank1, { features: { dtype: 'F32', shape: [S], data: new Float32Array(S) } });
  const base = ['predict', '--out', tmp('bad.safetensors')];
  const cases: [string[], RegExp][] = [
    [[...base, '--method', 'l2p', '--weights', notLower, '--interval', '4', '--schedule', 'taylorseer', '--features', F], /W\[3\]\[7\] = 0.5 lies above the diagonal: W must be lower-triangular/],
    [[...base, '--method', 'l2p', '--weights', big, '--full-steps', '0,4', '--features', F], /W is 50x50, made for 50 sampling steps, but this run has 20 steps/],
    [[...base, '--method', 'fora', '--interval', '4', '--features', nanF], /features at step 5 holds NaN/],
    [[...base, '--method', 'fora', '--interval', '4', '--features', noF], /no tensor "features"/],
    [[...base, '--method', 'fora', '--interval', '4', '--features', rank1], /features has shape \[20\], expected \[S, \.\.\.\]/],
    [[...base, '--method', 'fora', '--full-steps', '1,4,8', '--features', F], /full steps must start at step 0/],
    [[...base, '--method', 'fora', '--full-steps', '0,4,30', '--features', F], /full step 30 is outside the 20 steps/],
    [[...base, '--method', 'fora', '--interval', '4', '--full-steps', '0,4', '--features', F], /either --interval N or --full-steps/],
    [[...base, '--method', 'fora', '--features', F], /either --interval N or --full-steps/],
    [[...base, '--method', 'l2p', '--interval', '4', '--features', F], /--method l2p needs --weights/],
    [[...base, '--method', 'foca', '--order', '3', '--interval', '4', '--features', F], /--order applies to taylorseer only/],
    [[...base, '--method', 'taylorseer', '--order', '1.5', '--interval', '4', '--features', F], /--order must be a non-negative integer/],
    [[...base, '--method', 'magic', '--interval', '4', '--features', F], /unknown method "magic"/],
    [[...base, '--method', 'fora', '--interval', '4'], /missing --features/],
    [[...base, '--method', 'fora', '--interval', '4', '--features', '/nonexistent.safetensors'], /nonexistent\.safetensors/],
  ];
  await expectUserErrors(cases);
});

test.run();
