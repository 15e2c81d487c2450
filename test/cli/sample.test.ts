import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { main } from '../../cli/main.js';
import { readGrayPng } from '../../models/png.js';
import { readSafetensorsF32 } from '../../core/safetensors.js';
import { capture } from './harness.js';

const tmp = (name: string) => join(tmpdir(), `ditto-sample-${process.pid}-${name}`);

test('a grid PNG, one row per class, and a JSON summary', async () => {
  const { io, out } = capture();
  const path = tmp('grid.png');
  assert.is(await main(['sample', '--class', '3,8', '--per-class', '2', '--steps', '4', '--out', path, '--json'], io), 0);
  const summary = JSON.parse(out[0]);
  assert.equal(summary.classes, [3, 3, 8, 8]);
  assert.equal(summary.seeds, [0, 1, 0, 1]);
  assert.is(summary.full_steps, 4);
  const png = readGrayPng(path);
  // 2 x 2 images of 28 px with a 2 px border, enlarged 4x.
  assert.equal([png.width, png.height], [4 * (2 * 30 + 2), 4 * (2 * 30 + 2)]);
});

test('--cache skips model calls on the schedule and writes samples as safetensors', async () => {
  const { io, out } = capture();
  const path = tmp('s.safetensors');
  assert.is(await main(['sample', '--class', '1', '--steps', '6', '--cache', 'taylorseer', '--full-steps', '0,1,2,4', '--out', path, '--json'], io), 0);
  const summary = JSON.parse(out[0]);
  assert.equal([summary.full_steps, summary.skipped_steps], [4, 2]);
  assert.equal(readSafetensorsF32(path).tensors.get('samples')!.shape, [1, 1, 28, 28]);
});

test('user mistakes are one line each', async () => {
  const cases: [string[], RegExp][] = [
    [['sample', '--class', '10', '--out', tmp('x.png')], /"10" is not a class; give integers from 0 to 9/],
    [['sample', '--class', '1', '--out', tmp('x.jpg')], /give a \.png image or a \.safetensors file/],
    [['sample', '--class', '1', '--interval', '5', '--out', tmp('x.png')], /--interval configures a forecasting cache: add --cache/],
    [['sample', '--class', '1', '--cache', 'magic', '--out', tmp('x.png')], /magic/],
    [['sample', '--class', '1', '--cache', 'l2p', '--interval', '5', '--steps', '20', '--out', tmp('x.png')], /the paper's schedules are for 50 steps, not 20/],
    [['sample', '--class', '1', '--model', tmp('missing.safetensors'), '--out', tmp('x.png')], /no such --model file/],
  ];
  for (const [argv, pattern] of cases) {
    const { io, err } = capture();
    assert.is(await main(argv, io), 1, argv.join(' '));
    assert.match(err.at(-1)!, pattern);
    assert.not.ok(existsSync(tmp('x.png')));
  }
});

test.run();
