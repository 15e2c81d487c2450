// A FLUX transformer as a class-conditional image model: the FLUX fixture with a prompt table added
// (as tools/train_mnist_flux.py writes one), loaded through the model card. predict() must be the
// official forward on 2x2-packed pixels with the class's prompt row (packing and unpacking written out
// here by hand, independently of the ops), and guidance uncond + s (cond - uncond) on every channel.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { maxRelErr } from '../../../core/accuracy.js';
import { readSafetensorsF32, writeSafetensors, type TensorToWrite } from '../../../core/safetensors.js';
import { Flux } from '../../../models/flux/flux.js';
import { FluxClassModel } from '../../../models/flux/class-model.js';
import { inspectModel, loadModel } from '../../../models/pretrained.js';
import { fixture, testBackends } from '../../backends.js';
import { randn } from '../../reference.js';
import { refuses } from '../../refuses.js';

const dir = mkdtempSync(join(tmpdir(), 'ditto-flux-class-'));
// flux-g-h64 takes and gives 16 features: 4 channels in 2x2 patches. Its guidance embedding is left
// out (a class model is guidance-free, like FLUX.1-schnell).
const source = readSafetensorsF32(fixture('flux/flux-g-h64.weights.safetensors'));
const [C, H, W, CLASSES, LT] = [4, 6, 4, 3, 2];
let count = 0;

function checkpoint(metadata: Record<string, string>, prompts = true): string {
  const tensors: Record<string, TensorToWrite> = {};
  for (const [name, t] of source.tensors) if (!name.startsWith('guidance_in.')) tensors[name] = { dtype: 'F32', shape: t.shape, data: t.data };
  if (prompts) {
    tensors['class_prompts.txt'] = { dtype: 'F32', shape: [CLASSES + 1, LT, 32], data: randn((CLASSES + 1) * LT * 32, 5) };
    tensors['class_prompts.y'] = { dtype: 'F32', shape: [CLASSES + 1, 24], data: randn((CLASSES + 1) * 24, 6) };
  }
  const path = join(dir, `flux-${count++}.safetensors`);
  writeSafetensors(path, tensors, { ...source.metadata, sampler: 'euler-flow', time_shift: 'flux', data_range: '[-1,1]', ...metadata });
  return path;
}

test('the card of a FLUX checkpoint with class prompts: sizes from the header', () => {
  const { card, info } = inspectModel(checkpoint({ sample_shape: `${C},${H},${W}` }));
  assert.is(card.architecture, 'flux');
  assert.equal([info.channels, info.height, info.width, info.numClasses, info.imageTokens, info.heads], [C, H, W, CLASSES, 6, 2]);
});

test('FLUX checkpoints that cannot be sampled are refused in one line', () => {
  refuses(() => inspectModel(checkpoint({ sample_shape: '4,6,4' }, false)), /without a class prompt table .*ditto forward/);
  refuses(() => inspectModel(checkpoint({})), /sample_shape is undefined, expected "C,H,W"/);
  refuses(() => inspectModel(checkpoint({ sample_shape: '4,5,4' })), /with even H and W/);
  refuses(() => inspectModel(checkpoint({ sample_shape: '3,6,4' })), /gives 3 channels, but the model takes 16 features/);
  refuses(() => inspectModel(checkpoint({ sample_shape: '4,6,4', num_classes: '4' })), /num_classes is "4" but class_prompts has 4 rows/);
  refuses(() => inspectModel(checkpoint({ sample_shape: '4,6,4' }), { heads: 2 }), /--heads applies to DiT checkpoints/);
});

for (const backend of await testBackends()) {
  test(`${backend.name}: predict is the forward on packed pixels with the class's prompt, guided on every channel`, async () => {
    const { card } = inspectModel(checkpoint({ sample_shape: `${C},${H},${W}` }));
    const model = loadModel(card, backend).model as FluxClassModel;
    const N = 2, x = randn(N * C * H * W, 9), labels = [2, 0], t = [1000, 370.5];
    const [h, w] = [H / 2, W / 2];
    // Pack by hand: token (i, j) feature c*4 + ph*2 + pw = pixel (c, 2i + ph, 2j + pw).
    const packed = new Float32Array(x.length);
    for (let n = 0; n < N; n++) for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) for (let c = 0; c < C; c++) for (let p = 0; p < 4; p++) {
      packed[((n * h + i) * w + j) * 4 * C + c * 4 + p] = x[((n * C + c) * H + 2 * i + (p >> 1)) * W + 2 * j + (p & 1)];
    }
    const ids = new Float32Array(N * h * w * 3);
    for (let k = 0; k < N * h * w; k++) [ids[3 * k + 1], ids[3 * k + 2]] = [Math.floor((k % (h * w)) / w), k % w];
    const promptTxt = await model.prompts.txt.read(), promptY = await model.prompts.y.read();
    const flux = model.flux as Flux;
    const forward = async (ls: number[]) => {
      const pick = (table: ArrayLike<number>, width: number) => Float32Array.from(ls.flatMap((l) => Array.from(table).slice(l * width, (l + 1) * width)));
      return flux.forward({
        img: backend.upload(packed, [N, h * w, 4 * C], 'f32'), imgIds: ids,
        txt: backend.upload(pick(promptTxt, LT * 32), [N, LT, 32], 'f32'), txtIds: new Float32Array(N * LT * 3),
        timesteps: t.map((v) => v / 1000), y: backend.upload(pick(promptY, 24), [N, 24], 'f32'),
      }).read();
    };
    const unpack = (out: ArrayLike<number>) => {
      const image = new Float32Array(x.length);
      for (let k = 0; k < packed.length; k++) {
        const n = Math.floor(k / (h * w * 4 * C)), tok = Math.floor(k / (4 * C)) % (h * w), f = k % (4 * C);
        const [i, j, c, p] = [Math.floor(tok / w), tok % w, f >> 2, f & 3];
        image[((n * C + c) * H + 2 * i + (p >> 1)) * W + 2 * j + (p & 1)] = out[k];
      }
      return image;
    };
    const cond = unpack(await forward(labels)), uncond = unpack(await forward([CLASSES, CLASSES]));
    const tol = backend.name === 'cpu' ? 1e-5 : 1e-4;
    const plain = await model.predict(backend.upload(x, [N, C, H, W], 'f32'), t, labels).read();
    assert.ok(maxRelErr(plain, cond) <= tol, `unguided: ${maxRelErr(plain, cond)}`);
    // Guided: [x; x] with [y; null] gives uncond + s (cond - uncond) for both halves.
    const both = backend.upload(Float32Array.from([...x, ...x]), [2 * N, C, H, W], 'f32');
    const guided = await model.predict(both, [...t, ...t], [...labels, CLASSES, CLASSES], 3).read();
    const want = Float32Array.from(cond, (v, i) => uncond[i] + 3 * (v - uncond[i]));
    assert.ok(maxRelErr(guided, Float32Array.from([...want, ...want])) <= tol, `guided: ${maxRelErr(guided, Float32Array.from([...want, ...want]))}`);
  });
}

test.run();
