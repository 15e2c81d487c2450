// `ditto forward` end to end: the file a user would compare against PyTorch, and one-line errors.

import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { main } from '../../cli/main.js';
import { readSafetensorsF32, writeSafetensors } from '../../core/safetensors.js';
import { fixture, testBackends } from '../backends.js';
import { maxRelErr } from '../../core/accuracy.js';
import { capture, expectUserErrors } from './harness.js';


const tmp = (name: string) => join(tmpdir(), `ditto-cli-${process.pid}-${name}`);

test('forward with --cfg-scale writes out and out_cfg matching PyTorch', async () => {
  const name = 'dit-d2-h144-hd72-p4';
  const outPath = tmp('o.safetensors');
  const { io, out } = capture();
  const code = await main(['forward', '--weights', fixture(`${name}.weights.safetensors`), '--inputs', fixture(`${name}.inputs.safetensors`),
    '--out', outPath, '--cfg-scale', '4', '--backend', 'cpu', '--json'], io);
  assert.is(code, 0);
  assert.equal(JSON.parse(out[0]).tensors, { out: [2, 8, 16, 16], out_cfg: [4, 8, 16, 16] });
  const got = readSafetensorsF32(outPath).tensors;
  const want = readSafetensorsF32(fixture(`${name}.expected.safetensors`)).tensors;
  for (const k of ['out', 'out_cfg']) assert.ok(maxRelErr(got.get(k)!.data, want.get(k)!.data) <= 1e-4, k);
});

if ((await testBackends()).some((b) => b.name === 'webgpu')) {
  test('forward --backend webgpu matches PyTorch within 1e-3', async () => {
    const name = 'dit-d2-h144-hd72-p4';
    const outPath = tmp('gpu.safetensors');
    const { io } = capture();
    assert.is(await main(['forward', '--weights', fixture(`${name}.weights.safetensors`), '--inputs', fixture(`${name}.inputs.safetensors`),
      '--out', outPath, '--cfg-scale', '4', '--backend', 'webgpu'], io), 0);
    const got = readSafetensorsF32(outPath).tensors;
    const want = readSafetensorsF32(fixture(`${name}.expected.safetensors`)).tensors;
    for (const k of ['out', 'out_cfg']) assert.ok(maxRelErr(got.get(k)!.data, want.get(k)!.data) <= 1e-3, k);
  });
}

test('--heads supplies what the checkpoint metadata lacks', async () => {
  const name = 'dit-d1-h64-p8-nosigma';
  const args = ['forward', '--weights', fixture(`${name}.weights.safetensors`), '--inputs', fixture(`${name}.inputs.safetensors`), '--out', tmp('h.safetensors')];
  const without = capture();
  assert.is(await main(args, without.io), 1);
  assert.match(without.err.at(-1)!, /pass --heads H/);
  const withHeads = capture();
  assert.is(await main([...args, '--heads', '4'], withHeads.io), 0);
  const got = readSafetensorsF32(tmp('h.safetensors')).tensors.get('out')!.data;
  assert.ok(maxRelErr(got, readSafetensorsF32(fixture(`${name}.expected.safetensors`)).tensors.get('out')!.data) <= 1e-4);
});

test('--weights takes a PyTorch .pt: the same output as its safetensors, bit for bit', async () => {
  const name = 'dit-d1-h64-p8-nosigma';
  const run = async (weights: string, out: string) => {
    const { io } = capture();
    assert.is(await main(['forward', '--weights', weights, '--inputs', fixture(`${name}.inputs.safetensors`), '--out', out, '--cfg-scale', '4', '--heads', '4', '--backend', 'cpu'], io), 0);
    return readSafetensorsF32(out).tensors;
  };
  const fromPt = await run(fixture(`pt/${name}.pt`), tmp('pt.safetensors'));
  const fromSt = await run(fixture(`${name}.weights.safetensors`), tmp('st.safetensors'));
  for (const k of ['out', 'out_cfg']) assert.equal([...fromPt.get(k)!.data], [...fromSt.get(k)!.data], k);
  assert.ok(maxRelErr(fromPt.get('out')!.data, readSafetensorsF32(fixture(`${name}.expected.safetensors`)).tensors.get('out')!.data) <= 1e-4);
});

for (const backend of (await testBackends()).map((b) => b.name)) {
  test(`forward on a FLUX checkpoint (${backend}) writes the official Flux.forward output`, async () => {
    for (const name of ['flux-g-h64', 'flux-odd-h60']) {
      const outPath = tmp(`flux-${backend}.safetensors`);
      const { io, out } = capture();
      assert.is(await main(['forward', '--weights', fixture(`flux/${name}.weights.safetensors`), '--inputs', fixture(`flux/${name}.inputs.safetensors`),
        '--out', outPath, '--backend', backend, '--json'], io), 0);
      assert.is(JSON.parse(out[0]).architecture, 'flux');
      const got = readSafetensorsF32(outPath).tensors.get('out')!;
      const want = readSafetensorsF32(fixture(`flux/${name}.expected.safetensors`)).tensors.get('out')!;
      assert.equal(got.shape, want.shape);
      assert.ok(maxRelErr(got.data, want.data) <= (backend === 'cpu' ? 1e-4 : 1e-3), name);
    }
  });
}

test('FLUX inputs and flags are checked before anything runs', async () => {
  const weights = fixture('flux/flux-g-h64.weights.safetensors');
  const cases: [string[], RegExp][] = [
    // flux-odd-h60's inputs carry no guidance, and its img has 12 features where this model takes 16.
    [['forward', '--weights', weights, '--inputs', fixture('flux/flux-odd-h60.inputs.safetensors'), '--out', tmp('f.safetensors')], /img has shape \[1, 15, 12\], expected \[B, L, 16\]/],
    [['forward', '--weights', weights, '--inputs', fixture('dit-d2-h96-p2.inputs.safetensors'), '--out', tmp('f.safetensors')], /missing tensor "img": FLUX inputs are img \[B, L, in\]/],
    [['forward', '--weights', weights, '--inputs', fixture('flux/flux-g-h64.inputs.safetensors'), '--out', tmp('f.safetensors'), '--cfg-scale', '4'], /--cfg-scale applies to DiT checkpoints; .* is a FLUX transformer: drop --cfg-scale/],
    [['forward', '--weights', weights, '--inputs', fixture('flux/flux-g-h64.inputs.safetensors'), '--out', tmp('f.safetensors'), '--heads', '2'], /--heads applies to DiT checkpoints/],
  ];
  await expectUserErrors(cases);
});

for (const backend of (await testBackends()).map((b) => b.name)) {
  test(`forward on a Qwen-Image checkpoint (${backend}) writes diffusers' QwenImageTransformer2DModel output`, async () => {
    for (const name of ['qwen-odd', 'qwen-multi']) {
      const outPath = tmp(`qwen-${backend}.safetensors`);
      const { io, out } = capture();
      assert.is(await main(['forward', '--weights', fixture(`qwen-image/${name}.weights.safetensors`), '--inputs', fixture(`qwen-image/${name}.inputs.safetensors`),
        '--out', outPath, '--backend', backend, '--json'], io), 0);
      assert.is(JSON.parse(out[0]).architecture, 'qwen-image');
      const got = readSafetensorsF32(outPath).tensors.get('out')!;
      const want = readSafetensorsF32(fixture(`qwen-image/${name}.expected.safetensors`)).tensors.get('out')!;
      assert.equal(got.shape, want.shape);
      assert.ok(maxRelErr(got.data, want.data) <= (backend === 'cpu' ? 1e-4 : 1e-3), name);
    }
  });
}

test('Qwen-Image inputs and flags are checked before anything runs', async () => {
  const weights = fixture('qwen-image/qwen-tiny.weights.safetensors');
  const out = tmp('q.safetensors');
  // qwen-tiny's inputs with img_shapes (1, 4, 3): 12 tokens where img has 16.
  const inputs = readSafetensorsF32(fixture('qwen-image/qwen-tiny.inputs.safetensors')).tensors;
  const bad = tmp('q-bad-inputs.safetensors');
  const f32 = (k: string) => ({ dtype: 'F32' as const, shape: inputs.get(k)!.shape, data: inputs.get(k)!.data });
  writeSafetensors(bad, { img: f32('img'), txt: f32('txt'), timesteps: f32('timesteps'), img_shapes: { dtype: 'I32', shape: [1, 3], data: new Int32Array([1, 4, 3]) } });
  const cases: [string[], RegExp][] = [
    [['forward', '--weights', weights, '--inputs', bad, '--out', out],
      /q-bad-inputs\.safetensors: img_shapes \(1, 4, 3\) cover 12 tokens, but img has 16: sum of frames x height x width over the images must equal L/],
    // qwen-multi's img (16 features) fits qwen-tiny, but its txt is 12 wide where qwen-tiny takes 16.
    [['forward', '--weights', weights, '--inputs', fixture('qwen-image/qwen-multi.inputs.safetensors'), '--out', out], /txt has shape \[1, 2, 12\], expected \[1, Lt, 16\]/],
    [['forward', '--weights', weights, '--inputs', fixture('dit-d2-h96-p2.inputs.safetensors'), '--out', out], /missing tensor "img": Qwen-Image inputs are img \[B, L, in\]/],
    [['forward', '--weights', weights, '--inputs', fixture('qwen-image/qwen-tiny.inputs.safetensors'), '--out', out, '--cfg-scale', '4'], /--cfg-scale applies to DiT checkpoints; .* is a Qwen-Image transformer: drop --cfg-scale/],
  ];
  await expectUserErrors(cases);
});

test('user mistakes end in one line on stderr and exit code 1', async () => {
  const cases: [string[], RegExp][] = [
    [['forward', '--inputs', 'i', '--out', 'o'], /missing --weights/],
    [['forward', '--weights', '/nonexistent.safetensors', '--inputs', 'i', '--out', 'o'], /nonexistent\.safetensors/],
    [['forward', '--weights', fixture('dit-d2-h96-p2.weights.safetensors'), '--inputs', fixture('dit-d2-h96-p2.weights.safetensors'), '--out', 'o'], /missing tensor "x": inputs need x/],
    [['forward', '--weights', fixture('dit-d2-h96-p2.weights.safetensors'), '--inputs', fixture('dit-d2-h144-hd72-p4.inputs.safetensors'), '--out', 'o'], /takes \[N, 4, 8, 8\]/],
    [['forward', '--weights', fixture('pt/os-system.pt'), '--inputs', fixture('dit-d2-h96-p2.inputs.safetensors'), '--out', tmp('x.safetensors')], /names "os\.system", which ditto refuses/],
    [['forward', '--weights', 'w', '--inputs', 'i', '--out', 'o', '--backend', 'tpu'], /unknown backend "tpu"/],
    [['forward', '--weights', 'w', '--inputs', 'i', '--out', 'o', '--cfg-scale', 'lots'], /--cfg-scale must be a number/],
    [['forward', '--bogus'], /Unknown option '--bogus'/],
    [['nonsense'], /unknown command "nonsense"/],
  ];
  await expectUserErrors(cases);
});

test.run();
