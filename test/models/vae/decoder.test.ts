// The VAE decoder against the official latent-diffusion Decoder (tools/make_vae_fixtures.py), in both
// checkpoint layouts, on every backend; and the variants real checkpoints come in, which must decode
// exactly alike.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { maxRelErr } from '../../../core/accuracy.js';
import { CpuBackend } from '../../../core/cpu/backend.js';
import { readSafetensorsF32 } from '../../../core/safetensors.js';
import { upscaleFactor } from '../../../models/vae/config.js';
import { decodeLatents, largestPerImage, VaeDecoder } from '../../../models/vae/decoder.js';
import { inspectVae, loadVae } from '../../../models/vae/weights.js';
import { testBackends } from '../../backends.js';
import { DIFFUSERS, EXPECTED, LDM, rename, variant } from './checkpoints.js';

const backends = await testBackends();
const expected = readSafetensorsF32(EXPECTED).tensors;
const latents = expected.get('latents')!, images = expected.get('images')!;

/** The official decoder's images, and a tolerance per backend: f32 math, different summation orders. */
const TOLERANCE: Record<string, number> = { cpu: 1e-4, webgpu: 1e-3 };

test('the config is read off the shapes, the same in both layouts', () => {
  for (const [path, layout] of [[LDM, 'latent-diffusion'], [DIFFUSERS, 'diffusers']] as const) {
    const header = inspectVae(path);
    assert.equal(header, { layout, config: { latentChannels: 4, zChannels: 4, levelChannels: [32, 64], numResBlocks: 1, outChannels: 3 } });
    assert.is(upscaleFactor(header.config), 2);
  }
});

test('the largest tensor of one image: the widest block at full resolution, or the upsampled tensor', () => {
  const sd = { latentChannels: 4, zChannels: 4, levelChannels: [128, 256, 512, 512], numResBlocks: 2, outChannels: 3 };
  // 32x32 latents: level 1's 512-channel input at 128x128, and level 0's at 256x256 from 256 channels.
  assert.is(largestPerImage(sd, 32, 32), 256 * 256 * 256);
  assert.is(largestPerImage({ ...sd, levelChannels: [64] }, 5, 7), 64 * 35);
});

for (const be of backends) {
  for (const [path, layout] of [[LDM, 'latent-diffusion'], [DIFFUSERS, 'diffusers']] as const) {
    test(`${be.name}: decodes like the official code from the ${layout} layout`, async () => {
      const { config, weights } = loadVae(path, be);
      const out = await decodeLatents(new VaeDecoder(config, weights), latents.data, latents.shape, 0.18215);
      assert.equal(out.shape, images.shape);
      const err = maxRelErr(out.images, images.data);
      assert.ok(err <= TOLERANCE[be.name], `relative error ${err.toExponential(2)} > ${TOLERANCE[be.name]}`);
      console.log(`  ${be.name}, ${layout}: max relative error ${err.toExponential(2)}`);
    });
  }
}

const cpu = new CpuBackend(1);

async function decodeWith(path: string, be = cpu, onChunk?: (done: number) => void): Promise<Float32Array> {
  const { config, weights } = loadVae(path, be);
  return (await decodeLatents(new VaeDecoder(config, weights), latents.data, latents.shape, 0.18215, onChunk)).images;
}

test('older diffusers names, attention weights as 1x1 convs or Linear, a bare decoder: the same numbers', async () => {
  const reference = await decodeWith(DIFFUSERS);
  const cases = {
    'query/key/value/proj_attn': variant(DIFFUSERS, (t) => {
      rename(t, /attentions\.0\.to_q\./, 'attentions.0.query.');
      rename(t, /attentions\.0\.to_k\./, 'attentions.0.key.');
      rename(t, /attentions\.0\.to_v\./, 'attentions.0.value.');
      rename(t, /attentions\.0\.to_out\.0\./, 'attentions.0.proj_attn.');
    }),
    'diffusers with [C, C, 1, 1] attention weights': variant(DIFFUSERS, (t) => {
      for (const [name, tensor] of t) if (/attentions\.0\.to_.*weight$/.test(name)) tensor.shape = [...tensor.shape, 1, 1];
    }),
    'latent-diffusion with [C, C] attention weights': variant(LDM, (t) => {
      for (const [name, tensor] of t) if (/attn_1\.(q|k|v|proj_out)\.weight$/.test(name)) tensor.shape = tensor.shape.slice(0, 2);
    }),
    'a bare decoder, without encoder, quant_conv and loss': variant(LDM, (t) => {
      for (const name of t.keys()) if (!/^(decoder|post_quant_conv)\./.test(name)) t.delete(name);
    }),
  };
  for (const [what, path] of Object.entries(cases)) assert.equal(await decodeWith(path), reference, what);
  assert.equal(await decodeWith(LDM), reference, 'latent-diffusion layout');
});

test('latents are decoded in chunks that fit the backend, with the same images', async () => {
  const whole = await decodeWith(LDM);
  // Room for one image's largest tensor only: two chunks of one image.
  const budget = largestPerImage(inspectVae(LDM).config, 6, 8);
  const small = new (class extends CpuBackend {
    override readonly maxTensorElements = budget;
  })(1);
  const chunks: number[] = [];
  assert.equal(await decodeWith(LDM, small, (done) => chunks.push(done)), whole);
  assert.equal(chunks, [1, 2]);
});

test.run();
