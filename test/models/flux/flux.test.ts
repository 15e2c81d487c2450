// The FLUX transformer on every backend against the official black-forest-labs/flux code
// (tools/make_flux_fixtures.py: random non-trivial weights, float64 outputs): the final output and
// every block's, so a failure says where parity breaks.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { maxRelErr } from '../../../core/accuracy.js';
import { readSafetensorsF32 } from '../../../core/safetensors.js';
import { tidy, type Tensor } from '../../../core/tensor.js';
import { Flux, type FluxInputs } from '../../../models/flux/flux.js';
import { loadFlux } from '../../../models/flux/weights.js';
import { fixture, testBackends } from '../../backends.js';

/** The bar: f32 against float64, relative to the largest output. */
const TOLERANCE: Record<string, number> = { cpu: 1e-4, webgpu: 1e-3 };

export const FLUX_FIXTURES = ['flux-g-h64', 'flux-odd-h60', 'flux-nobias-h48'];

for (const backend of await testBackends()) {
  for (const name of FLUX_FIXTURES) {
    test(`${backend.name}: ${name} equals the official FLUX forward`, async () => {
      const { config, weights } = loadFlux(fixture(`flux/${name}.weights.safetensors`), backend);
      const inputs = readSafetensorsF32(fixture(`flux/${name}.inputs.safetensors`)).tensors;
      const want = readSafetensorsF32(fixture(`flux/${name}.expected.safetensors`)).tensors;
      const up = (k: string) => backend.upload(inputs.get(k)!.data, inputs.get(k)!.shape, 'f32');
      const inp: FluxInputs = {
        img: up('img'), imgIds: inputs.get('img_ids')!.data, txt: up('txt'), txtIds: inputs.get('txt_ids')!.data,
        timesteps: inputs.get('timesteps')!.data, y: up('y'), guidance: inputs.get('guidance')?.data,
      };
      const out = new Flux(config, weights).forward(inp);
      assert.equal(out.shape, want.get('out')!.shape);
      const err = maxRelErr(await out.read(), want.get('out')!.data);
      assert.ok(err <= TOLERANCE[backend.name], `out: relative error ${err}`);
    });
  }

  test(`${backend.name}: a model with guidance_in refuses to run without guidance`, () => {
    const { config, weights } = loadFlux(fixture('flux/flux-g-h64.weights.safetensors'), backend);
    const inputs = readSafetensorsF32(fixture('flux/flux-g-h64.inputs.safetensors')).tensors;
    const up = (k: string): Tensor => backend.upload(inputs.get(k)!.data, inputs.get(k)!.shape, 'f32');
    assert.throws(() => tidy(() => new Flux(config, weights).forward({
      img: up('img'), imgIds: inputs.get('img_ids')!.data, txt: up('txt'), txtIds: inputs.get('txt_ids')!.data,
      timesteps: inputs.get('timesteps')!.data, y: up('y'),
    })), /embeds a guidance scale .*give guidance/);
  });
}

test.run();
