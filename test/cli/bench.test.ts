// `ditto bench` refuses bad input in one line before any benchmark starts; `bench forward` reports its runs.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { main } from '../../cli/main.js';
import { capture, expectUserErrors } from './harness.js';

test('a missing or unknown suite, a flag of another suite, a bad count: one line each', async () => {
  await expectUserErrors([
    [['bench'], /name a benchmark suite first: ditto bench cpu, kernels, models, forward, profile or cache/],
    [['bench', '--json'], /name a benchmark suite first/],
    [['bench', 'gpu'], /unknown benchmark suite "gpu": ditto bench cpu, kernels, models, forward, profile or cache/],
    [['bench', 'toString'], /unknown benchmark suite "toString"/],
    [['bench', 'cpu', '--seeds', '3'], /Unknown option '--seeds'/],
    [['bench', 'kernels', '--no-torch'], /Unknown option '--no-torch'/],
    [['bench', 'cpu', '--runs', '0'], /--runs must be a positive integer, got "0"/],
    [['bench', 'cpu', '--runs', '1e9'], /--runs 1e9 is more than 1000/],
    [['bench', 'cpu', 'extra'], /unexpected argument "extra"/],
    [['bench', 'cache', '--methods', 'fora,nope'], /--methods: unknown method "nope"/],
    [['bench', 'forward'], /bench forward needs --model: a checkpoint, a bundled model's name, or one of DiT-S\/2, DiT-B\/2, DiT-XL\/2/],
    [['bench', 'forward', '--model', 'mnist-dit', '--size', '8'], /--size sets a preset's latent side; a checkpoint has its own: drop --size/],
    [['bench', 'forward', '--model', 'DiT-S/2', '--size', '7'], /--size 7: a patch-2 DiT needs an even latent side/],
    [['bench', 'forward', '--model', 'DiT-S/2', '--batch', '0'], /--batch must be a positive integer/],
    [['bench', 'forward', '--model', '/nonexistent.safetensors'], /nonexistent\.safetensors/],
    [['bench', 'profile'], /bench profile needs --model/],
    [['bench', 'profile', '--model', 'DiT-S/2', '--runs', '0'], /--runs must be a positive integer/],
  ]);
});

test('bench forward --json: one forward of a preset timed, every run reported', async () => {
  const { io, out } = capture();
  assert.is(await main(['bench', 'forward', '--model', 'DiT-S/2', '--size', '4', '--batch', '3', '--runs', '4', '--backend', 'cpu', '--json'], io), 0);
  const r = JSON.parse(out[0]);
  assert.equal([r.model, r.backend, r.batch, r.runs_s.length], ['DiT-S/2', 'cpu', 3, 4]);
  const sorted = [...r.runs_s].sort((a: number, b: number) => a - b);
  assert.is(r.median_s, (sorted[1] + sorted[2]) / 2);
  assert.ok(sorted[0] > 0);
});

test('bench profile --json: the ops of one preset forward grouped, shares summing to 100%', async () => {
  const { io, out } = capture();
  assert.is(await main(['bench', 'profile', '--model', 'DiT-S/2', '--size', '4', '--batch', '2', '--runs', '2', '--backend', 'cpu', '--json'], io), 0);
  const r = JSON.parse(out[0]);
  assert.equal([r.model, r.backend, r.batch, r.runs, r.timing], ['DiT-S/2', 'cpu', 2, 2, 'op-wall']);
  const linears = r.rows.filter((x: { kernel: string }) => x.kernel.startsWith('linear'));
  // DiT-S/2: 12 blocks of adaLN, qkv, proj, fc1, fc2 (proj and fc2 with their gated residual); patch embedding, two time-MLP layers, final adaLN and linear.
  assert.equal(linears.map((x: { kernel: string; dispatches: number }) => [x.kernel, x.dispatches]).sort(), [['linear', 12 * 3 + 5], ['linearGatedResidual', 12 * 2]]);
  const pct = r.rows.reduce((a: number, x: { pct: number }) => a + x.pct, 0);
  assert.ok(Math.abs(pct - 100) < 1e-9, `shares sum to ${pct}`);
});

test.run();
