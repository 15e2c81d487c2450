// The ONNX Runtime peer on a small committed ONNX file: tools/export_dit_onnx.py's export of the
// dit-d1-h64-p8-nosigma parity fixture (the same weights as its safetensors), so CI, which has
// onnxruntime-node (a devDependency) but no torch, runs the peer's plumbing end to end.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { maxRelErr } from '../../../core/accuracy.js';
import { CpuBackend } from '../../../core/cpu/backend.js';
import { readSafetensorsF32, SafetensorsFile } from '../../../core/safetensors.js';
import { DiT } from '../../../models/dit/dit.js';
import { loadDiT } from '../../../models/dit/weights.js';
import { loadOnnxRuntime, type DiTFeeds } from '../../../bench/peers/onnxruntime.js';
import type { Importer } from '../../../bench/peers/peer.js';
import { fixture } from '../../backends.js';

const NAME = 'dit-d1-h64-p8-nosigma';
const absent: Importer = (specifier) => import(`${specifier}-not-installed`);

test('without onnxruntime-node: one line naming it and how to install it', async () => {
  assert.equal(await loadOnnxRuntime(absent), { peer: null, reason: "Cannot find package 'onnxruntime-node-not-installed' (npm install onnxruntime-node)" });
});

test('the exported fixture in ONNX Runtime: PyTorch\'s float64 output and ditto\'s, to f32 rounding', async () => {
  const { peer } = await loadOnnxRuntime();
  assert.ok(peer, 'onnxruntime-node loads');
  assert.match(peer.version, /^onnxruntime-node \d+\.\d+\.\d+$/);
  const inputs = SafetensorsFile.open(fixture(`${NAME}.inputs.safetensors`));
  const feeds: DiTFeeds = { x: inputs.readF32('x'), shape: inputs.info('x').shape, t: Array.from(inputs.readF32('t')), y: Array.from(inputs.readI32('y')) };
  inputs.close();
  const session = await peer.session(fixture(`${NAME}.onnx`), feeds, 1);
  const out = await session.run();
  assert.equal(Array.from(await session.run()), Array.from(out), 'the same output on every run');
  await session.dispose();
  const want = readSafetensorsF32(fixture(`${NAME}.expected.safetensors`)).tensors.get('out')!.data;
  assert.ok(maxRelErr(out, want) < 1e-5, `against float64: ${maxRelErr(out, want)}`);

  const backend = new CpuBackend(1);
  try {
    const { config, weights } = loadDiT(fixture(`${NAME}.weights.safetensors`), backend, { heads: 4 });
    const ours = await new DiT(config, weights).forward(backend.upload(feeds.x, feeds.shape, 'f32'), feeds.t, feeds.y).read();
    assert.ok(maxRelErr(out, ours) < 1e-5, `against ditto: ${maxRelErr(out, ours)}`);
  } finally {
    await backend.pool.close();
  }
});

test.run();
