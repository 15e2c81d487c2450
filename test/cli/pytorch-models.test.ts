// Every command that takes a checkpoint takes a PyTorch .pt as it takes safetensors.

import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { main } from '../../cli/main.js';
import { fixture } from '../backends.js';
import { capture, expectUserErrors } from './harness.js';

const dir = fs.mkdtempSync(join(tmpdir(), 'ditto-pt-models-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));
const DIT = 'dit-d1-h64-p8-nosigma';

test('sample --model X.pt draws the same latents as the safetensors it holds', async () => {
  const draw = async (model: string, out: string) => {
    const { io, err } = capture();
    const code = await main(['sample', '--model', model, '--heads', '4', '--class', '0,4', '--steps', '3', '--backend', 'cpu', '--out', out], io);
    assert.is(code, 0, err.join(' '));
    return fs.readFileSync(out);
  };
  const fromPt = await draw(fixture(`pt/${DIT}.pt`), join(dir, 'pt.safetensors'));
  const fromSt = await draw(fixture(`${DIT}.weights.safetensors`), join(dir, 'st.safetensors'));
  assert.ok(fromPt.equals(fromSt));
});

test('a hostile .pt is refused before any work, and runs nothing', async () => {
  const marker = '/tmp/ditto-pt-marker-os-system';
  fs.rmSync(marker, { force: true });
  await expectUserErrors([
    [['sample', '--model', fixture('pt/os-system.pt'), '--class', '0', '--out', join(dir, 'x.safetensors')], /names "os\.system", which ditto refuses/],
    [['sample', '--model', fixture('pt/legacy.pt'), '--class', '0', '--out', join(dir, 'x.safetensors')], /legacy format/],
  ]);
  assert.not.ok(fs.existsSync(marker));
  assert.not.ok(fs.existsSync(join(dir, 'x.safetensors')));
});

test.run();
