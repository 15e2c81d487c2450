// Every command fed what a careless or hostile user gives it: malformed files, FIFOs and devices,
// absurd numbers, outputs that are inputs or cannot be written, nonsense flag combinations. Each case
// must end with exit code 1 and ONE line on stderr (so nothing was started before the mistake was
// found: not even a backend), no stack trace, and every file in the working folder exactly as it was
// (no output destroyed, no partial file left).

import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { main } from '../../cli/main.js';
import { writeSafetensors } from '../../core/safetensors.js';
import { fixture } from '../backends.js';
import { capture } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'ditto-hostile-'));
const at = (name: string) => join(dir, name);

// Existing outputs that no failing command may touch.
const png = at('existing.png'), json = at('existing.json'), st = at('existing.safetensors');
for (const f of [png, json, st]) writeFileSync(f, 'PRECIOUS');
// Inputs.
const model = at('model.safetensors');
copyFileSync(fixture('dit-d2-h96-p2.weights.safetensors'), model);
const inputs = at('inputs.safetensors');
copyFileSync(fixture('dit-d2-h96-p2.inputs.safetensors'), inputs);
const traj = at('T.safetensors');
copyFileSync(fixture('l2p-adam.safetensors'), traj);
const features = at('F.safetensors');
writeSafetensors(features, { features: { dtype: 'F32', shape: [8, 3], data: Float32Array.from({ length: 24 }, (_, i) => Math.sin(i)) } });
const garbage = at('garbage.safetensors');
writeFileSync(garbage, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24)));
const truncated = at('truncated.safetensors');
writeFileSync(truncated, readFileSync(fixture('dit-d2-h96-p2.weights.safetensors')).subarray(0, 3000));
const fifo = at('fifo');
execFileSync('mkfifo', [fifo]);
const folderPng = at('folder.png');
mkdirSync(folderPng);
const zeroW = at('zero.json');
writeFileSync(zeroW, JSON.stringify(Array.from({ length: 50 }, () => new Array(50).fill(0))));
const zeroW8 = at('zero8.json');
writeFileSync(zeroW8, JSON.stringify(Array.from({ length: 8 }, () => new Array(8).fill(0))));
const deepW = at('deep.json');
writeFileSync(deepW, '['.repeat(100_000) + ']'.repeat(100_000));
const infW = at('inf.json');
writeFileSync(infW, '[[1e400]]');

/** Name -> bytes of every file in the folder (the FIFO and folders by name only). */
function snapshot(): Map<string, string> {
  return new Map(readdirSync(dir, { withFileTypes: true }).map((e) => [e.name, e.isFile() ? readFileSync(join(dir, e.name)).toString('base64') : e.name]));
}

/**
 * `afterWork`: the mistake can only show once work has run (a fit that diverges), so progress lines
 * may come first; the error is still one line, and the last.
 */
async function refused(argv: string[], pattern: RegExp, afterWork = false): Promise<void> {
  const before = snapshot();
  const { io, err: all, out } = capture();
  const label = argv.join(' ');
  assert.is(await main(argv, io), 1, label);
  const err = afterWork ? all.slice(-1) : all;
  assert.is(err.length, 1, `one line on stderr for: ${label}\n${all.join('\n')}`);
  assert.not.ok(err[0]!.includes('\n'), `a single line: ${err[0]}`);
  assert.not.ok(/\n\s+at /.test(err[0]!), `no stack trace: ${label}`);
  assert.match(err[0]!, pattern, label);
  assert.equal(out, [], `nothing on stdout: ${label}`);
  assert.equal(snapshot(), before, `files untouched: ${label}`);
}

test('sample', async () => {
  const s = (...a: string[]) => ['sample', ...a];
  await refused(s('--class', '1', '2', '--out', png), /unexpected argument "2": .*--class 1,2/);
  await refused(s('--class', ',', '--out', png), /an empty entry is not a class/);
  await refused(s('--class', '1', '--cfg=-7', '--out', png), /--cfg must be at least 1/);
  await refused(s('--class', '1', '--cache', 'fora', '--weights', zeroW, '--out', png), /--weights is L2P's matrix: --cache fora takes none/);
  await refused(s('--class', '1', '--order', '2', '--out', png), /--order configures a forecasting cache/);
  await refused(s('--class', '1', '--cache', 'foca', '--order', '2', '--out', png), /--order is TaylorSeer's/);
  await refused(s('--class', '1', '--seed', '4294967296', '--out', png), /--seed 4294967296 is more than 4294967295/);
  await refused(s('--class', '1', '--seed', '4294967295', '--per-class', '2', '--out', png), /runs past the largest seed/);
  await refused(s('--class', '1', '--steps', '1e12', '--out', png), /--steps 1e12 is more than 10000/);
  await refused(s('--class', '1', '--model', model, '--steps', '2000', '--out', st), /--steps 2000 is more than 1000/);
  await refused(s('--class', '1', '--per-class', '100000', '--out', png), /--per-class 100000 is more than 10000/);
  await refused(s('--class', '0,1,2,3,4,5,6,7,8,9', '--per-class', '5000', '--out', png), /asks for 50000 images; one command draws at most 10000/);
  await refused(s('--class', '1', '--model', garbage, '--out', png), /garbage\.safetensors/);
  await refused(s('--class', '1', '--model', truncated, '--out', st), /truncated\.safetensors/);
  await refused(s('--class', '1', '--model', fifo, '--out', png), /not a regular file/);
  await refused(s('--class', '1', '--model', dir, '--out', png), /is a directory/);
  await refused(s('--class', '1', '--model', model, '--out', model), /is also --model: writing it would destroy the input/);
  await refused(s('--class', '1', '--cache', 'l2p', '--weights', '/dev/zero', '--out', png), /not a regular file/);
  await refused(s('--class', '1', '--cache', 'l2p', '--weights', deepW, '--out', png), /W\[0\]\[0\] is a list, not a finite number/);
  await refused(s('--class', '1', '--cache', 'l2p', '--weights', infW, '--out', png), /W\[0\]\[0\] is Infinity/);
  await refused(s('--class', '1', '--cache', 'l2p', '--weights', zeroW, '--interval', '5', '--out', png), /row 2 of W is all zero, but paper N=5 forecasts step 3/);
  await refused(s('--class', '1', '--out', join(png, 'x.png')), /existing\.png is a file, not a folder/);
  await refused(s('--class', '1', '--out', folderPng), /is a directory: give a file path inside it/);
  await refused(s('--class', '1', '--out', png, '--backend', 'tpu'), /unknown backend "tpu"/);
});

test('calibrate', async () => {
  const c = (...a: string[]) => ['calibrate', ...a];
  await refused(c('--trajectories', '1000000', '--out', json), /--trajectories 1000000 is more than 10000/);
  await refused(c('--out', join(png, 'W.json')), /is a file, not a folder/);
  await refused(c('--out', json, '--save-trajectories', json), /--save-trajectories .* is also --out/);
  await refused(c('--out', json, '--steps', '1e12'), /--steps 1e12 is more than 10000/);
  await refused(c('--out', json, '--cfg', '0'), /--cfg must be at least 1/);
  await refused(c('--out', json, '--model', fifo), /not a regular file/);
});

test('fit and predict', async () => {
  await refused(['fit', '--trajectories', traj, '--method', 'adam', '--out', traj], /--out .* is also --trajectories/);
  await refused(['fit', '--trajectories', fifo, '--method', 'adam', '--out', json], /not a regular file/);
  await refused(['fit', '--trajectories', garbage, '--method', 'lstsq', '--out', json], /garbage\.safetensors/);
  await refused(['fit', '--trajectories', traj, '--method', 'adam', '--lr', '1e300', '--out', json], /the Adam fit diverged: the loss is (NaN|Infinity) at step \d+/, true);
  await refused(['fit', '--trajectories', traj, '--method', 'adam', '--adam-steps', '1e9', '--out', json], /--adam-steps 1e9 is more than/);
  const p = (...a: string[]) => ['predict', '--features', features, ...a];
  await refused(p('--method', 'fora', '--interval', '2', '--out', features), /is also --features/);
  await refused(p('--method', 'l2p', '--weights', zeroW, '--full-steps', '0,2,4,6', '--out', st), /W is 50x50, made for 50 sampling steps, but this run has 8/);
  await refused(p('--method', 'l2p', '--weights', zeroW8, '--full-steps', '0,2,4,6', '--out', st), /row 0 of W is all zero, but explicit forecasts step 1/);
  await refused(p('--method', 'taylorseer', '--order', '17', '--interval', '2', '--out', st), /--order 17 is more than 16/);
  await refused(p('--method', 'fora', '--order', '2', '--interval', '2', '--out', st), /--order applies to taylorseer only/);
  await refused(p('--method', 'fora', '--full-steps', '0,99999999999999999', '--out', st), /larger than 9007199254740991/);
});

test('forward and analyze', async () => {
  await refused(['forward', '--weights', model, '--inputs', inputs, '--out', inputs], /--out .* is also --inputs/);
  await refused(['forward', '--weights', '/dev/zero', '--inputs', inputs, '--out', st], /not a regular file/);
  await refused(['forward', '--weights', model, '--inputs', fifo, '--out', st], /not a regular file/);
  await refused(['analyze', 'coefficients', '--method', 'taylorseer', '--anchors', '9007199254740993,1', '--target', '9007199254740995'], /larger than 9007199254740991/);
  await refused(['analyze', 'coefficients', '--method', 'newton', '--anchors', Array.from({ length: 40 }, (_, i) => 80 - 2 * i).join(','), '--target', '90'], /lists 40 steps/);
  await refused(['analyze', '--weights', deepW, '--interval', '5'], /W\[0\]\[0\] is a list/);
  await refused(['analyze', '--weights', '/dev/zero', '--interval', '5'], /not a regular file/);
  await refused(['analyze', 'extra', 'args'], /unexpected argument/);
});

test('bench and demo', async () => {
  await refused(['bench', 'cache', '--save-images', png], /existing\.png is a file, not a folder/);
  await refused(['bench', 'cache', '--seeds', '100000'], /--seeds 100000 is more than 10000/);
  await refused(['bench', 'cache', '--weights', fifo], /not a regular file/);
  await refused(['demo', '--out', folderPng], /is a directory/);
  await refused(['demo', '--out', join(png, 'demo.png')], /is a file, not a folder/);
});

test('as a process: one stderr line, nothing from Dawn (no device was opened), nothing on stdout', () => {
  const cli = new URL('../../cli/main.js', import.meta.url).pathname;
  for (const argv of [['sample', '--class', '1', '--model', garbage, '--out', png], ['forward', '--weights', model, '--inputs', inputs, '--out', inputs]]) {
    const r = spawnSync(process.execPath, [cli, ...argv], { encoding: 'utf8' });
    assert.is(r.status, 1, argv.join(' '));
    assert.is(r.stdout, '');
    assert.is(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^ditto (sample|forward): error: /);
  }
});

test('DITTO_THREADS is checked, not ignored', async () => {
  process.env.DITTO_THREADS = 'lots';
  try {
    await refused(['sample', '--class', '1', '--steps', '2', '--backend', 'cpu', '--out', png], /DITTO_THREADS=lots: give the number of CPU threads/);
  } finally {
    delete process.env.DITTO_THREADS;
  }
});

test('DITTO_CPU_KERNELS is checked, not ignored', async () => {
  process.env.DITTO_CPU_KERNELS = 'fast';
  try {
    await refused(['sample', '--class', '1', '--steps', '2', '--backend', 'cpu', '--out', png], /DITTO_CPU_KERNELS=fast: give ts \(TypeScript loops\) or simd/);
  } finally {
    delete process.env.DITTO_CPU_KERNELS;
  }
});

test.run();
