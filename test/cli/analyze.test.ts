// `ditto analyze` end to end: the identities pass (exit 0), coefficients print exact weights, and the
// data-driven sections run on the fixtures.

import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { main } from '../../cli/main.js';
import { fixture } from '../backends.js';
import { capture, expectUserErrors } from './harness.js';

const tmp = (name: string) => join(tmpdir(), `ditto-analyze-${process.pid}-${name}`);

test('analyze: every identity holds (exit 0), tables for people, JSON for programs', async () => {
  const { io, out } = capture();
  assert.is(await main(['analyze'], io), 0);
  const text = out.join('\n');
  assert.match(text, /TaylorSeer\s+Newton/);
  assert.match(text, /\(109601\/40320, /);
  assert.match(text, /all \d+ identities hold/);
  const j = capture();
  assert.is(await main(['analyze', '--json'], j.io), 0);
  const r = JSON.parse(j.out[0]!);
  assert.is(r.passed, true);
  assert.ok(r.checks.length > 100 && r.checks.every((c: { passed: boolean }) => c.passed));
  assert.equal(r.weights.even[1].taylorseer, ['5/2', '-2/1', '1/2']);
  assert.equal(r.weights.even[1].newton, ['3/1', '-3/1', '1/1']);
});

test('coefficients --json: exact "p/q" and float values, most recent anchor first', async () => {
  const run = async (args: string[]) => {
    const { io, out } = capture();
    assert.is(await main(['analyze', 'coefficients', ...args, '--json'], io), 0, args.join(' '));
    return JSON.parse(out[0]!);
  };
  const foca = await run(['--method', 'foca', '--anchors', '30,25,20', '--target', '35']);
  assert.equal(foca.weights, [
    { step: 30, exact: '7/3', value: 7 / 3 },
    { step: 25, exact: '-5/3', value: -5 / 3 },
    { step: 20, exact: '1/3', value: 1 / 3 },
  ]);
  const ts = await run(['--method', 'taylorseer', '--order', '2', '--anchors', '12,8,4', '--target', '16']);
  assert.equal(ts.weights.map((w: { exact: string }) => w.exact), ['5/2', '-2/1', '1/2']);
  const nw = await run(['--method', 'newton', '--order', '3', '--anchors', '12,8,4,0', '--target', '16']);
  assert.equal(nw.weights.map((w: { exact: string }) => w.exact), ['4/1', '-6/1', '4/1', '-1/1']);
  const uneven = await run(['--method', 'taylorseer', '--order', '1', '--anchors', '44,37', '--target', '47']);
  assert.equal(uneven.weights.map((w: { exact: string }) => w.exact), ['10/7', '-3/7']);
  assert.is(uneven.sum, '1/1');
  // official semantics: at step 1 no derivative is formed, so anchors 2,1,0 give only D0 and D1
  const early = await run(['--method', 'taylorseer', '--order', '2', '--anchors', '2,1,0', '--target', '3']);
  assert.equal(early.weights.map((w: { exact: string }) => w.exact), ['2/1', '-1/1', '0/1']);
});

test('with --weights: L2P unrolled on a schedule; with --trajectories: projection fidelity', async () => {
  const { io, out } = capture();
  assert.is(await main(['analyze', '--weights', fixture('l2p-adam.weights.json'), '--full-steps', '0,1,2,6,10,14,18', '--trajectories', fixture('l2p-adam.safetensors')], io), 0);
  const text = out.join('\n');
  assert.match(text, /L2P effective weights on full steps/);
  assert.match(text, /mean fidelity > 0.95 on \d+% of the 20 steps/);
  const j = capture();
  assert.is(await main(['analyze', '--json', '--weights', fixture('l2p-adam.weights.json'), '--interval', '4', '--schedule', 'taylorseer', '--order', '1'], j.io), 0);
  const r = JSON.parse(j.out[0]!);
  assert.is(r.effective.steps.length, 20 - 7);
  assert.is(r.effective.taylor_seer_order, 1);
});

test('user mistakes end in one line on stderr and exit code 1', async () => {
  const cases: [string[], RegExp][] = [
    [['analyze', 'coefficients', '--method', 'taylorseer', '--anchors', '4,8', '--target', '12'], /most recent first, strictly decreasing/],
    [['analyze', 'coefficients', '--method', 'newton', '--anchors', '8,4', '--target', '6'], /--target 6 must come after the most recent anchor 8/],
    [['analyze', 'coefficients', '--method', 'newton', '--order', '3', '--anchors', '8,4', '--target', '9'], /Newton of order 3 needs 4 anchors, got 2/],
    [['analyze', 'coefficients', '--method', 'foca', '--order', '3', '--anchors', '8,4,0', '--target', '9'], /FoCa has a fixed form/],
    [['analyze', 'coefficients', '--method', 'hermite', '--anchors', '8,4', '--target', '9'], /unknown method "hermite"/],
    [['analyze', 'coefficients', '--method', 'newton', '--anchors', '8,x', '--target', '9'], /--anchors must be a comma-separated list/],
    [['analyze', 'coefficients', '--method', 'newton', '--anchors', '8,4'], /missing --target/],
    [['analyze', '--interval', '5'], /go with --weights/],
    [['analyze', '--weights', fixture('l2p-adam.weights.json')], /--weights needs the schedule/],
    [['analyze', '--weights', fixture('l2p-adam.weights.json'), '--interval', '5'], /paper's schedules are for 50 steps, not 20/],
    [['analyze', '--trajectories', tmp('missing.safetensors')], /missing\.safetensors/],
    [['analyze', 'table'], /unexpected argument "table"/],
  ];
  await expectUserErrors(cases);
});

test.run();
