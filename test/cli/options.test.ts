import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseFlags } from '../../cli/flags.js';
import { cacheFlagSpec, cacheFromFlags, cfgFromFlags, checkOutputs, MAX_SEED, orderFromFlags, parseClasses, seedFromFlags, stepsFromFlags } from '../../cli/options.js';
import { UserError } from '../../core/errors.js';
import type { ModelCard } from '../../models/pretrained.js';

const usage = 'usage: ditto sample [--flags]';
const flags = (...argv: string[]) => parseFlags(argv, { ...cacheFlagSpec, seed: { type: 'string' }, steps: { type: 'string' }, cfg: { type: 'string' } }, usage);
const card: ModelCard = { path: 'm.safetensors', architecture: 'dit', sampler: 'ddim', steps: 50, cfgScale: 4, timeShift: false, dataRange: null, l2pWeights: null };

function userError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: Error) => e instanceof UserError && pattern.test(e.message) && !e.message.includes('\n'), String(pattern));
}

test('classes: integers below the class count, no empty entries', () => {
  assert.equal(parseClasses('3, 5,0', 10), [3, 5, 0]);
  userError(() => parseClasses(',', 10), /an empty entry is not a class/);
  userError(() => parseClasses('1,,2', 10), /an empty entry/);
  userError(() => parseClasses('10', 10), /"10" is not a class; give integers from 0 to 9/);
  userError(() => parseClasses('1.5', 10), /"1.5" is not a class/);
  userError(() => parseClasses('-1', 10), /"-1" is not a class/);
});

test('seeds stay within 32 bits for every image', () => {
  assert.is(seedFromFlags(flags(), 4), 0);
  assert.is(seedFromFlags(flags('--seed', String(MAX_SEED)), 1), MAX_SEED);
  userError(() => seedFromFlags(flags('--seed', String(MAX_SEED)), 2), /runs past the largest seed/);
  userError(() => seedFromFlags(flags('--seed=-1'), 1), /non-negative integer/);
  userError(() => seedFromFlags(flags('--seed', '2.5'), 1), /non-negative integer/);
});

test('steps and guidance: sane ranges, one rule', () => {
  const flow = { steps: 50, sampler: 'euler-flow' } as const, ddim = { steps: 50, sampler: 'ddim' } as const;
  assert.is(stepsFromFlags(flags(), flow), 50);
  assert.is(stepsFromFlags(flags('--steps', '10000'), flow), 10000);
  userError(() => stepsFromFlags(flags('--steps', '1e12'), flow), /more than 10000/);
  userError(() => stepsFromFlags(flags('--steps', '0'), flow), /positive integer/);
  assert.is(stepsFromFlags(flags('--steps', '1000'), ddim), 1000);
  userError(() => stepsFromFlags(flags('--steps', '2000'), ddim), /--steps 2000 is more than 1000/);
  assert.is(cfgFromFlags(flags('--cfg', '1'), 4), 1);
  userError(() => cfgFromFlags(flags('--cfg=-7'), 4), /at least 1/);
  userError(() => cfgFromFlags(flags('--cfg', 'Infinity'), 4), /must be a number/);
});

test('--order: 0 to 16 everywhere', () => {
  assert.is(orderFromFlags(flags('--order', '0')), 0);
  assert.is(orderFromFlags(flags('--order', '16')), 16);
  userError(() => orderFromFlags(flags('--order', '17')), /more than 16/);
  userError(() => orderFromFlags(flags('--order=-1')), /non-negative integer/);
});

test('cache flags only with the method they configure', () => {
  assert.is(cacheFromFlags(flags(), 50, card).schedule.fullSteps.length, 50);
  assert.match(cacheFromFlags(flags('--cache', 'taylorseer', '--order', '0'), 50, card).predictor!.name, /^taylorseer/);
  userError(() => cacheFromFlags(flags('--interval', '5'), 50, card), /--interval configures a forecasting cache/);
  userError(() => cacheFromFlags(flags('--weights', 'W.json'), 50, card), /add --cache l2p/);
  userError(() => cacheFromFlags(flags('--cache', 'fora', '--weights', 'W.json'), 50, card), /--cache fora takes none/);
  userError(() => cacheFromFlags(flags('--cache', 'foca', '--order', '3'), 50, card), /--order is TaylorSeer's/);
  userError(() => cacheFromFlags(flags('--cache', 'l2p'), 50, card), /has none beside it/);
});

test('outputs are distinct from each other and from every input', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ditto-options-'));
  const input = join(dir, 'in.safetensors');
  writeFileSync(input, 'x');
  checkOutputs([{ flag: '--out', path: join(dir, 'W.json') }, { flag: '--save-trajectories', path: join(dir, 'T.safetensors') }], [{ flag: '--model', path: input }]);
  userError(() => checkOutputs([{ flag: '--out', path: join(dir, 'a') }, { flag: '--save-trajectories', path: join(dir, '.', 'a') }], []), /--save-trajectories .* is also --out/);
  userError(() => checkOutputs([{ flag: '--out', path: input }], [{ flag: '--model', path: input }]), /is also --model/);
});

test.run();
