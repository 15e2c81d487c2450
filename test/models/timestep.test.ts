import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readSafetensorsF32, SafetensorsFile } from '../../core/safetensors.js';
import { timestepSinusoid } from '../../models/timestep.js';
import { fixture } from '../backends.js';

test("cos comes first: docs/dit.md's check values for t = 999", () => {
  const e = timestepSinusoid([999]);
  assert.ok(Math.abs(e[0] - 0.99965) < 1e-5, `e[0] = ${e[0]}`);
  assert.ok(Math.abs(e[1] - 0.963785) < 1e-6, `e[1] = ${e[1]}`);
  assert.ok(Math.abs(e[255] - 0.1071472) < 1e-6, `e[255] = ${e[255]}`);
  // -0.398965 is the value with exactly rounded frequencies (docs/dit.md). The official code rounds the
  // exponent -ln(10000) * 2 / 128 to f32 first, and PyTorch 1.13 float32 on the CPU prints
  // -0.39902055263519287: we follow the code that made the checkpoints, bit for bit.
  assert.is(e[2], Math.fround(-0.39902055263519287));
});

test('t = 0 gives cos = 1 and sin = 0 everywhere', () => {
  const e = timestepSinusoid([0]);
  assert.equal(Array.from(e.subarray(0, 128)), Array(128).fill(1));
  assert.equal(Array.from(e.subarray(128)), Array(128).fill(0));
});

test('equals PyTorch float32 timestep_embedding on the fixtures', () => {
  for (const name of ['dit-d2-h96-p2', 'dit-d2-h144-hd72-p4', 'dit-d3-h64-p2-rect']) {
    const inputs = SafetensorsFile.open(fixture(`${name}.inputs.safetensors`));
    const t = inputs.readF32('t');
    inputs.close();
    const want = readSafetensorsF32(fixture(`${name}.expected.safetensors`)).tensors.get('temb')!.data;
    const got = timestepSinusoid(t);
    let max = 0;
    for (let i = 0; i < got.length; i++) max = Math.max(max, Math.abs(got[i] - want[i]));
    // The fixture's float64 reference rounds each frequency from its exact value; we round the
    // exponent to f32 first, as the official float32 code does. The arguments (up to ~999) may then
    // differ by one f32 ulp (6e-5), and so may cos/sin; nothing larger.
    assert.ok(max <= 6.2e-5, `${name}: max difference ${max}`);
  }
});

test("with scale 1000, diffusers' Timesteps(flip_sin_to_cos, scale=1000) of Qwen-Image, bit for bit", () => {
  for (const name of ['qwen-tiny', 'qwen-odd', 'qwen-multi']) {
    const inputs = SafetensorsFile.open(fixture(`qwen-image/${name}.inputs.safetensors`));
    const t = inputs.readF32('timesteps');
    inputs.close();
    const want = readSafetensorsF32(fixture(`qwen-image/${name}.expected.safetensors`)).tensors.get('t_proj')!.data;
    assert.equal(Array.from(timestepSinusoid(t, 1000)), Array.from(want), name);
    // Scaling first (FLUX's order, fround(fround(1000 t) * freq)) rounds the arguments differently.
    assert.not.equal(Array.from(timestepSinusoid(Array.from(t, (v) => 1000 * v))), Array.from(want), name);
  }
});

test('scale 1 is the default, bit for bit', () => {
  const t = [0, 0.25, 1, 17.5, 999];
  assert.equal(Array.from(timestepSinusoid(t, 1)), Array.from(timestepSinusoid(t)));
});

test.run();
