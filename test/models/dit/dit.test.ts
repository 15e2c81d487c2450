// The DiT forward on every backend against PyTorch (tools/make_fixtures.py: the official module
// layout, random non-zero weights, outputs computed in float64). Guided and unguided.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readSafetensorsF32, SafetensorsFile } from '../../../core/safetensors.js';
import { DiT } from '../../../models/dit/dit.js';
import { loadDiT } from '../../../models/dit/weights.js';
import { fixture, testBackends } from '../../backends.js';
import { maxRelErr } from '../../../core/accuracy.js';

const FIXTURES: [name: string, heads?: number][] = [
  ['dit-d2-h96-p2'],
  ['dit-d2-h144-hd72-p4'],
  ['dit-d1-h64-p8-nosigma', 4],
  ['dit-d3-h64-p2-rect'],
];

/** f32 math against a float64 reference: the CPU accumulates in f64 and lands near 1e-5. */
const TOLERANCE: Record<string, number> = { cpu: 1e-4, webgpu: 1e-3 };

for (const backend of await testBackends()) {
  for (const [name, heads] of FIXTURES) {
    test(`${backend.name}: ${name} matches PyTorch, guided and unguided`, async () => {
      const { config, weights } = loadDiT(fixture(`${name}.weights.safetensors`), backend, { heads });
      const model = new DiT(config, weights);
      const inputs = SafetensorsFile.open(fixture(`${name}.inputs.safetensors`));
      const x = inputs.readF32('x'), t = Array.from(inputs.readF32('t')), y = Array.from(inputs.readI32('y'));
      const xShape = inputs.info('x').shape;
      inputs.close();
      const expected = readSafetensorsF32(fixture(`${name}.expected.safetensors`));
      const cfgScale = Number(expected.metadata.cfg_scale);

      const out = model.forward(backend.upload(x, xShape, 'f32'), t, y);
      const want = expected.tensors.get('out')!;
      assert.equal(out.shape, want.shape);
      const err = maxRelErr(await out.read(), want.data);
      assert.ok(err <= TOLERANCE[backend.name], `out: relative error ${err}`);

      const n = xShape[0];
      const x2 = backend.upload(Float32Array.from([...x, ...x]), [2 * n, ...xShape.slice(1)], 'f32');
      const guided = model.forwardWithCfg(x2, [...t, ...t], [...y, ...Array(n).fill(config.numClasses)], cfgScale);
      const wantCfg = expected.tensors.get('out_cfg')!;
      assert.equal(guided.shape, wantCfg.shape);
      const errCfg = maxRelErr(await guided.read(), wantCfg.data);
      assert.ok(errCfg <= TOLERANCE[backend.name], `out_cfg: relative error ${errCfg}`);
    });
  }

  test(`${backend.name}: guidance touches only the first 3 output channels`, async () => {
    const { config, weights } = loadDiT(fixture('dit-d2-h96-p2.weights.safetensors'), backend);
    const model = new DiT(config, weights);
    const s = config.inputSize, c = config.inChannels;
    const x = new Float32Array(c * s * s).map((_, i) => Math.sin(i));
    const both = backend.upload(Float32Array.from([...x, ...x]), [2, c, s, s], 'f32');
    const plain = await model.forward(both, [500, 500], [3, config.numClasses]).read();
    const guided = await model.forwardWithCfg(both, [500, 500], [3, config.numClasses], 4).read();
    const plane = s * s;
    for (let ch = 0; ch < 2 * c; ch++) {
      const a = guided.subarray(ch * plane, (ch + 1) * plane), b = plain.subarray(ch * plane, (ch + 1) * plane);
      if (ch < 3) assert.ok(maxRelErr(a, b) > 1e-3, `channel ${ch} should be guided`);
      else assert.equal(Array.from(a), Array.from(b), `channel ${ch} must stay unguided`);
    }
  });

  test(`${backend.name}: inputs that do not fit the model are refused`, () => {
    const { config, weights } = loadDiT(fixture('dit-d2-h96-p2.weights.safetensors'), backend);
    const model = new DiT(config, weights);
    const x = backend.upload(new Float32Array(4 * 8 * 8), [1, 4, 8, 8], 'f32');
    assert.throws(() => model.forward(backend.upload(new Float32Array(3 * 64), [1, 3, 8, 8], 'f32'), [1], [1]), /takes \[N, 4, 8, 8\]/);
    assert.throws(() => model.forward(x, [1, 2], [1]), /batch sizes differ/);
    assert.throws(() => model.forward(x, [1], [11]), /out of range: classes are 0\.\.9, and 10 is the null class/);
    assert.throws(() => model.forward(x, [NaN], [1]), /not a finite number/);
  });
}

test.run();
