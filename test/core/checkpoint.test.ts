// openCheckpoint: one interface over safetensors and PyTorch files, the format told by content.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkpointFormat, openCheckpoint, type Checkpoint } from '../../core/checkpoint.js';
import { UserError } from '../../core/errors.js';
import { PyTorchFile } from '../../core/pytorch.js';
import { SafetensorsFile } from '../../core/safetensors.js';
import { fixture } from '../backends.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ditto-checkpoint-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

const copy = (from: string, name: string) => {
  const to = path.join(dir, name);
  fs.copyFileSync(from, to);
  return to;
};

function values(c: Checkpoint): [string, string, number[], number[]][] {
  return [...c.tensors].map(([name, t]) => [name, t.dtype, t.shape, [...c.readF32(name)]]);
}

test('both formats behind one interface, with the same tensors', () => {
  const st = openCheckpoint(fixture('dit-d1-h64-p8-nosigma.weights.safetensors'));
  const pt = openCheckpoint(fixture('pt/dit-d1-h64-p8-nosigma.pt'));
  assert.instance(st, SafetensorsFile);
  assert.instance(pt, PyTorchFile);
  assert.equal(values(pt), values(st));
  assert.ok(pt.has('pos_embed') && !pt.has('nothing'));
  assert.equal(pt.metadata, {});
  assert.equal(st.metadata.patch_size, '8');
  st.close();
  pt.close();
});

test('the format comes from the content, not the name', () => {
  assert.is(checkpointFormat(copy(fixture('pt/views.pt'), 'really-pt.safetensors')), 'pytorch');
  assert.is(checkpointFormat(copy(fixture('dit-d1-h64-p8-nosigma.weights.safetensors'), 'really-st.pt')), 'safetensors');
  assert.is(checkpointFormat(copy(fixture('pt/legacy.pt'), 'legacy.safetensors')), 'pytorch');
  const renamed = openCheckpoint(path.join(dir, 'really-pt.safetensors'));
  assert.instance(renamed, PyTorchFile);
  renamed.close();
  // A safetensors header 128 bytes long starts with 0x80, pickle's PROTO: it is still safetensors.
  const json = Buffer.alloc(128, ' ');
  json.write('{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(128n);
  const file = path.join(dir, 'h128.pt');
  fs.writeFileSync(file, Buffer.concat([length, json, Buffer.from(Float32Array.of(2.5).buffer)]));
  assert.is(checkpointFormat(file), 'safetensors');
  const opened = openCheckpoint(file);
  assert.equal([...opened.readF32('x')], [2.5]);
  opened.close();
});

test('neither format: the reader the name points to refuses it in one line', () => {
  const junk = Buffer.from('just some text, not a checkpoint at all');
  for (const [name, pattern] of [['junk.pt', /not a PyTorch checkpoint/], ['junk.safetensors', /not a safetensors file/]] as const) {
    const file = path.join(dir, name);
    fs.writeFileSync(file, junk);
    assert.throws(() => openCheckpoint(file), (e: Error) => e instanceof UserError && pattern.test(e.message) && !e.message.includes('\n'));
  }
  assert.throws(() => openCheckpoint(path.join(dir, 'missing.pt')), (e: Error) => e instanceof UserError && /no such checkpoint/.test(e.message));
  assert.throws(() => openCheckpoint(dir), (e: Error) => e instanceof UserError && /is a directory/.test(e.message));
});

test.run();
