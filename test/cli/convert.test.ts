// `ditto convert` end to end: the safetensors it writes runs exactly as the .pt it came from.

import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { main } from '../../cli/main.js';
import { SafetensorsFile } from '../../core/safetensors.js';
import { fixture } from '../backends.js';
import { capture, expectUserErrors } from './harness.js';

const dir = fs.mkdtempSync(join(tmpdir(), 'ditto-convert-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));
const tmp = (name: string) => join(dir, name);
const DIT = 'dit-d1-h64-p8-nosigma';

async function run(argv: string[]): Promise<string[]> {
  const { io, out, err } = capture();
  const code = await main(argv, io);
  assert.is(code, 0, `${argv.join(' ')}: ${err.join(' ')}`);
  return out;
}

async function forward(weights: string, out: string, extra: string[] = []): Promise<Buffer> {
  await run(['forward', '--weights', weights, '--inputs', fixture(`${DIT}.inputs.safetensors`), '--out', out, '--cfg-scale', '4', '--backend', 'cpu', ...extra]);
  return fs.readFileSync(out);
}

test('convert, then forward: the same output as forward on the .pt and on the original safetensors, bit for bit', async () => {
  const converted = tmp('dit.safetensors');
  const summary = JSON.parse((await run(['convert', fixture(`pt/${DIT}.pt`), converted, '--heads', '4', '--json'])).join('\n'));
  assert.equal([summary.state_dict, summary.tensors, summary.dtypes, summary.dit.num_heads], [null, 22, { F32: 22 }, 4]);
  assert.equal(summary.metadata, { patch_size: '8', learn_sigma: 'false', num_classes: '5', num_heads: '4' });
  const file = SafetensorsFile.open(converted);
  const original = SafetensorsFile.open(fixture(`${DIT}.weights.safetensors`));
  assert.equal([...file.tensors.keys()], [...original.tensors.keys()], 'state-dict order');
  for (const name of original.tensors.keys()) assert.ok(Buffer.from(file.readRaw(name)).equals(Buffer.from(original.readRaw(name))), name);
  file.close();
  original.close();

  const fromOriginal = await forward(fixture(`${DIT}.weights.safetensors`), tmp('o1.safetensors'), ['--heads', '4']);
  const fromPt = await forward(fixture(`pt/${DIT}.pt`), tmp('o2.safetensors'), ['--heads', '4']);
  const fromConverted = await forward(converted, tmp('o3.safetensors')); // num_heads is in its metadata now
  assert.ok(fromPt.equals(fromOriginal), '.pt = safetensors');
  assert.ok(fromConverted.equals(fromOriginal), 'converted = safetensors');
});

test('without --heads: the shapes\' config is recorded, the heads are not', async () => {
  const converted = tmp('noheads.safetensors');
  const out = await run(['convert', fixture(`pt/${DIT}.pt`), converted]);
  assert.match(out.join('\n'), /DiT depth 1, hidden 64, patch 8, 16x16x4, learn_sigma false, 5 classes, heads not recorded/);
  const file = SafetensorsFile.open(converted);
  assert.equal(file.metadata, { patch_size: '8', learn_sigma: 'false', num_classes: '5' });
  file.close();
});

test('a training checkpoint: the EMA weights; other state dicts keep their dtypes, or --f32', async () => {
  const ema = tmp('ema.safetensors');
  const { io, out, err } = capture();
  assert.is(await main(['convert', fixture('pt/training.pt'), ema], io), 0);
  assert.match(out[0], /read "ema" of .*training\.pt: 4 tensors \(4 F32\)/);
  assert.match(err.join('\n'), /not a DiT ditto can load .*written without DiT metadata/);
  const want = SafetensorsFile.open(fixture('pt/training.expected.safetensors'));
  const got = SafetensorsFile.open(ema);
  for (const name of want.tensors.keys()) assert.ok(Buffer.from(got.readRaw(name)).equals(Buffer.from(want.readRaw(name))), name);
  want.close();
  got.close();

  const views = tmp('views.safetensors');
  await run(['convert', fixture('pt/views.pt'), views]);
  const stored = SafetensorsFile.open(views);
  assert.equal(['f16', 'bf16', 'f64', 'i64', 'transposed'].map((n) => stored.info(n).dtype), ['F16', 'BF16', 'F64', 'I64', 'F32']);
  const expected = SafetensorsFile.open(fixture('pt/views.expected.safetensors'));
  for (const name of expected.tensors.keys()) assert.equal([...stored.readF32(name)], [...expected.readF32(name)], name);
  stored.close();

  const wide = tmp('views-f32.safetensors');
  await run(['convert', fixture('pt/views.pt'), wide, '--f32']);
  const f32 = SafetensorsFile.open(wide);
  assert.equal(['f16', 'bf16', 'f64', 'i64'].map((n) => f32.info(n).dtype), ['F32', 'F32', 'F32', 'I64']);
  for (const name of expected.tensors.keys()) assert.equal([...f32.readF32(name)], [...expected.readF32(name)], name);
  f32.close();
  expected.close();
});

test('mistakes and hostile files: one line, before anything is written', async () => {
  const kept = tmp('kept.safetensors');
  fs.writeFileSync(kept, 'previous');
  await expectUserErrors([
    [['convert'], /convert takes IN\.pt and OUT\.safetensors/],
    [['convert', fixture('pt/views.pt')], /convert takes IN\.pt and OUT\.safetensors/],
    [['convert', fixture('pt/views.pt'), tmp('a.safetensors'), 'extra'], /unexpected argument "extra"/],
    [['convert', fixture('pt/views.pt'), tmp('a.pt')], /give a path ending in \.safetensors/],
    [['convert', tmp('missing.pt'), tmp('a.safetensors')], /missing\.pt: no such PyTorch checkpoint/],
    [['convert', fixture(`${DIT}.weights.safetensors`), tmp('a.safetensors')], /is not a PyTorch checkpoint .*needs no converting/],
    [['convert', fixture(`${DIT}.weights.safetensors`), fixture(`${DIT}.weights.safetensors`)], /OUT .* is also IN/],
    [['convert', fixture('pt/training.pt'), tmp('a.safetensors'), '--heads', '2'], /--heads is a DiT's, and .* is not a DiT/],
    [['convert', fixture(`pt/${DIT}.pt`), tmp('a.safetensors'), '--heads', '5'], /--heads 5 does not divide hidden size 64/],
    [['convert', fixture('pt/os-system.pt'), kept], /names "os\.system", which ditto refuses/],
    [['convert', fixture('pt/legacy.pt'), kept], /legacy format/],
    [['convert', fixture('pt/deflated.pt'), kept], /compressed/],
  ]);
  assert.is(fs.readFileSync(kept, 'utf8'), 'previous', 'a refused conversion leaves the output as it was');
  assert.not.ok(fs.existsSync(tmp('a.safetensors')));
  const { io, out } = capture();
  assert.is(await main(['convert', '--help'], io), 0);
  assert.match(out[0], /^usage: ditto convert IN\.pt OUT\.safetensors/);
});

test.run();
