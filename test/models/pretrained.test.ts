// The model card: the sampling settings in a checkpoint's __metadata__ are checked when it is opened,
// each refusal one line naming the file and the key.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CpuBackend } from '../../core/cpu/backend.js';
import { readSafetensorsF32, writeSafetensors, type TensorToWrite } from '../../core/safetensors.js';
import { inspectModel, openModel } from '../../models/pretrained.js';
import { fixture } from '../backends.js';
import { refuses } from '../refuses.js';

const dir = mkdtempSync(join(tmpdir(), 'ditto-pretrained-'));
const source = readSafetensorsF32(fixture('dit-d2-h96-p2.weights.safetensors'));
let count = 0;

/** The fixture checkpoint with `metadata` added to its own, written to a temp file. */
function withMetadata(metadata: Record<string, string>): string {
  const tensors: Record<string, TensorToWrite> = {};
  for (const [name, t] of source.tensors) tensors[name] = { dtype: 'F32', shape: t.shape, data: t.data };
  const path = join(dir, `model-${count++}.safetensors`);
  writeSafetensors(path, tensors, { ...source.metadata, ...metadata });
  return path;
}

test('a checkpoint without a card gets DiT\'s defaults', () => {
  const { card } = inspectModel(withMetadata({}));
  assert.equal([card.sampler, card.steps, card.cfgScale, card.timeShift, card.dataRange], ['ddim', 50, 4, false, null]);
});

test('a full card is read as written', () => {
  const { card } = inspectModel(withMetadata({ sampler: 'euler-flow', steps: '20', cfg_scale: '2.5', time_shift: 'flux', data_range: '[ -1, 1 ]' }));
  assert.equal([card.sampler, card.steps, card.cfgScale, card.timeShift, card.dataRange], ['euler-flow', 20, 2.5, true, [-1, 1]]);
  assert.equal(inspectModel(withMetadata({ data_range: '[0,255]', steps: '1000' })).card.dataRange, [0, 255]);
  assert.is(inspectModel(withMetadata({ sampler: 'euler-flow', steps: '10000' })).card.steps, 10000);
});

test('the bundled model\'s card', () => {
  const { card } = inspectModel(undefined);
  assert.equal([card.sampler, card.steps, card.cfgScale, card.timeShift, card.dataRange], ['euler-flow', 50, 3, false, [-1, 1]]);
});

test('every bad setting is refused, naming the key', () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ sampler: 'heun' }, /__metadata__\.sampler is "heun", expected euler-flow or ddim: fix the checkpoint's metadata$/],
    ...['0', '-5', '2.5', '', ' 50', '1e2', '0x10', 'fifty'].map((steps): [Record<string, string>, RegExp] => [
      { steps }, /__metadata__\.steps is ".*", expected an integer from 1 to 1000 \(DDIM respaces 1000 steps\)/,
    ]),
    [{ steps: '1001' }, /__metadata__\.steps is "1001", expected an integer from 1 to 1000/],
    [{ sampler: 'euler-flow', steps: '10001' }, /__metadata__\.steps is "10001", expected an integer from 1 to 10000: fix/],
    [{ sampler: 'euler-flow', steps: '99999999999999999999999' }, /__metadata__\.steps is "99999999999999999999999", expected an integer from 1 to 10000/],
    ...['Infinity', '-Infinity', 'NaN', '', ' ', '1e400', '0x4', '0.5', '-4'].map((cfg): [Record<string, string>, RegExp] => [
      { cfg_scale: cfg }, /__metadata__\.cfg_scale is ".*", expected a finite number of at least 1: fix/,
    ]),
    [{ time_shift: 'yes' }, /__metadata__\.time_shift is "yes", expected none or flux/],
    ...['[1,-1]', '[1,1]', '[..,1]', '[-1,1e400]', '[-1,NaN]', '-1,1', '[-1,1,2]', '[]', '[0x0,1]'].map((range): [Record<string, string>, RegExp] => [
      { data_range: range }, /__metadata__\.data_range is ".*", expected "\[lo,hi\]" with finite lo < hi: fix/,
    ]),
  ];
  for (const [metadata, pattern] of cases) {
    const path = withMetadata(metadata);
    refuses(() => inspectModel(path), new RegExp(`^${path.replace(/[.]/g, '\\.')}: ${pattern.source}`));
  }
});

test('the card is checked before any weight is uploaded', () => {
  let uploads = 0;
  const backend = new CpuBackend(1);
  const upload = backend.upload.bind(backend);
  backend.upload = (...args) => (uploads++, upload(...args));
  refuses(() => openModel(withMetadata({ steps: '0' }), backend), /__metadata__\.steps is "0"/);
  assert.is(uploads, 0);
  openModel(withMetadata({}), backend);
  assert.ok(uploads > 0);
});

test('--heads must agree with __metadata__.num_heads', () => {
  const path = withMetadata({});
  assert.is(inspectModel(path, { heads: 6 }).info.heads, 6);
  refuses(() => inspectModel(path, { heads: 4 }), new RegExp(`^${path.replace(/[.]/g, '\\.')}: --heads 4 disagrees with __metadata__\\.num_heads = 6: drop --heads$`));
});

test('a model that is not a regular file is refused at once', () => {
  const fifo = join(dir, 'fifo.safetensors');
  execFileSync('mkfifo', [fifo]);
  refuses(() => openModel(fifo, new CpuBackend(1)), /fifo\.safetensors is not a regular file/);
  refuses(() => inspectModel(dir), /is a directory, not a model file/);
  refuses(() => inspectModel(join(dir, 'nothing.safetensors')), /nothing\.safetensors: no such model file: check the path/);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
