// The Qwen-Image transformer on every backend against diffusers' QwenImageTransformer2DModel
// (tools/make_qwen_image_fixtures.py: random non-trivial weights, float64 outputs): a 4x4 grid with
// diffusers' unit-test config, an odd 3x5 grid, and two images in one sequence. The RoPE tables and
// the timestep sinusoid are checked bit for bit on their own (rope.test.ts, ../timestep.test.ts).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { maxRelErr } from '../../../core/accuracy.js';
import type { Backend } from '../../../core/backend.js';
import { readSafetensorsF32, SafetensorsFile } from '../../../core/safetensors.js';
import { tidy } from '../../../core/tensor.js';
import { QwenImage, type QwenImageInputs } from '../../../models/qwen-image/qwen-image.js';
import type { ImageShape } from '../../../models/qwen-image/rope.js';
import { loadQwenImage, randomQwenImageWeights } from '../../../models/qwen-image/weights.js';
import { fixture, testBackends } from '../../backends.js';

/** The bar: f32 against float64, relative to the largest output. */
const TOLERANCE: Record<string, number> = { cpu: 1e-4, webgpu: 1e-3 };

const QWEN_FIXTURES = ['qwen-tiny', 'qwen-odd', 'qwen-multi'];

/** A fixture's img_shapes [K, 3] (I32) as (frames, height, width) triples. */
function imageShapes(name: string): ImageShape[] {
  const file = SafetensorsFile.open(fixture(`qwen-image/${name}.inputs.safetensors`));
  const flat = file.readI32('img_shapes');
  file.close();
  return Array.from({ length: flat.length / 3 }, (_, k) => [flat[3 * k], flat[3 * k + 1], flat[3 * k + 2]] as const);
}

function fixtureInputs(name: string, backend: Backend): QwenImageInputs {
  const inputs = readSafetensorsF32(fixture(`qwen-image/${name}.inputs.safetensors`)).tensors;
  const up = (k: string) => backend.upload(inputs.get(k)!.data, inputs.get(k)!.shape, 'f32');
  return { img: up('img'), txt: up('txt'), timesteps: inputs.get('timesteps')!.data, imgShapes: imageShapes(name) };
}

for (const backend of await testBackends()) {
  for (const name of QWEN_FIXTURES) {
    test(`${backend.name}: ${name} equals diffusers' QwenImageTransformer2DModel`, async () => {
      const { config, weights } = loadQwenImage(fixture(`qwen-image/${name}.weights.safetensors`), backend);
      const want = readSafetensorsF32(fixture(`qwen-image/${name}.expected.safetensors`)).tensors;
      const out = new QwenImage(config, weights).forward(fixtureInputs(name, backend));
      assert.equal(out.shape, want.get('out')!.shape);
      const err = maxRelErr(await out.read(), want.get('out')!.data);
      assert.ok(err <= TOLERANCE[backend.name], `out: relative error ${err}`);
    });
  }

  test(`${backend.name}: img_shapes that do not cover img are refused before anything runs`, () => {
    const { config, weights } = loadQwenImage(fixture('qwen-image/qwen-multi.weights.safetensors'), backend);
    const inp = fixtureInputs('qwen-multi', backend);
    const model = new QwenImage(config, weights);
    assert.throws(() => tidy(() => model.forward({ ...inp, imgShapes: [[1, 2, 3], [1, 3, 3]] })), /cover 15 tokens, but img has 18/);
    assert.throws(() => tidy(() => model.forward({ ...inp, imgShapes: [[1, 0, 3], [1, 6, 3]] })), /img_shapes\[0\] is \(1, 0, 3\), not 3 positive integers/);
    assert.throws(() => tidy(() => model.forward({ ...inp, imgShapes: [] })), /img_shapes is empty/);
    assert.throws(() => tidy(() => model.forward({ ...inp, timesteps: [0.5, 0.5] })), /timesteps holds 2 values, expected one per sample \(1\)/);
  });
}

test('random weights of the unit-test config give a finite output of [B, L, p^2 out]', async () => {
  const [backend] = await testBackends();
  const config = {
    inChannels: 16, outChannels: 4, patchSize: 2, jointAttentionDim: 16, hiddenSize: 64, numHeads: 4, mlpHidden: 256,
    numLayers: 2, axesDim: [8, 4, 4], theta: 10000,
  };
  const inp = fixtureInputs('qwen-tiny', backend);
  const out = new QwenImage(config, randomQwenImageWeights(config, backend)).forward(inp);
  assert.equal(out.shape, [2, 16, 16]);
  assert.ok((await out.read() as Float32Array).every(Number.isFinite));
});

test.run();
