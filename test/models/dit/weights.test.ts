// Checkpoints that do not fit are refused with the tensor's name, the expected and the found shape.

import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CpuBackend } from '../../../core/cpu/backend.js';
import { UserError } from '../../../core/errors.js';
import { readSafetensorsF32, writeSafetensors, type TensorToWrite } from '../../../core/safetensors.js';
import { loadDiT } from '../../../models/dit/weights.js';
import { fixture } from '../../backends.js';

const backend = new CpuBackend(1);
const source = readSafetensorsF32(fixture('dit-d2-h96-p2.weights.safetensors'));

/** The fixture checkpoint with `edit` applied, written to a temp file. */
function variant(edit: (tensors: Record<string, TensorToWrite>) => void): string {
  const tensors: Record<string, TensorToWrite> = {};
  for (const [name, t] of source.tensors) tensors[name] = { dtype: 'F32', shape: t.shape, data: t.data };
  edit(tensors);
  const path = join(tmpdir(), `ditto-weights-${process.pid}-${Math.random().toString(36).slice(2)}.safetensors`);
  writeSafetensors(path, tensors, source.metadata);
  return path;
}

function refuses(path: string, pattern: RegExp): void {
  assert.throws(() => loadDiT(path, backend), (e: Error) => e instanceof UserError && pattern.test(e.message) && !e.message.includes('\n'));
}

test('loads the fixture and reads its config', () => {
  const { config } = loadDiT(fixture('dit-d2-h96-p2.weights.safetensors'), backend);
  assert.equal([config.depth, config.hiddenSize, config.numHeads, config.patchSize, config.inputSize], [2, 96, 6, 2, 8]);
});

test('a missing tensor is named with its expected shape', () => {
  refuses(variant((t) => delete t['blocks.1.mlp.fc2.bias']), /missing tensor "blocks\.1\.mlp\.fc2\.bias" \(expected shape \[96\]\)/);
});

test('a wrong shape is named with the expected and the found shape', () => {
  refuses(
    variant((t) => (t['blocks.0.attn.proj.weight'] = { dtype: 'F32', shape: [96, 95], data: new Float32Array(96 * 95) })),
    /tensor "blocks\.0\.attn\.proj\.weight" has shape \[96, 95\], expected \[96, 96\]/,
  );
});

test('F16 weights are widened on load', async () => {
  const path = variant((t) => {
    const w = t['final_layer.linear.weight'];
    t['final_layer.linear.weight'] = { ...w, dtype: 'F16' };
  });
  const { weights } = loadDiT(path, backend);
  const got = await weights.finalLinear.weight.read();
  const want = source.tensors.get('final_layer.linear.weight')!.data;
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= Math.abs(want[i]) * 2 ** -11 + 2 ** -24);
});

test.run();
