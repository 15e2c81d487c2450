// A VAE checkpoint is accepted only if its decoder is complete, well-typed and finite. Each bad
// checkpoint here is a fixture with one thing changed, and each must be refused with one line naming
// the file and what is wrong, before anything is uploaded where the header shows it.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CpuBackend } from '../../../core/cpu/backend.js';
import { UserError } from '../../../core/errors.js';
import { inspectVae, loadVae } from '../../../models/vae/weights.js';
import { fixture } from '../../backends.js';
import { DIFFUSERS, LDM, rename, variant, type RawTensor } from './checkpoints.js';

const backend = new CpuBackend(1);

function refused(path: string, pattern: RegExp, header = true): void {
  for (const load of header ? [() => inspectVae(path), () => loadVae(path, backend)] : [() => loadVae(path, backend)]) {
    try {
      load();
    } catch (e) {
      assert.instance(e, UserError);
      const message = (e as Error).message;
      assert.ok(message.startsWith(`${path}: `), `names the file: ${message}`);
      assert.not.match(message, /\n/);
      assert.match(message, pattern);
      continue;
    }
    assert.unreachable(`${path} was accepted`);
  }
}

const f32 = (values: number[]): RawTensor['bytes'] => new Uint8Array(Float32Array.from(values).buffer);

test('an incomplete decoder is refused, naming what is missing', () => {
  refused(variant(LDM, (t) => t.delete('decoder.up.0.block.1.conv2.bias')), /missing tensor "decoder\.up\.0\.block\.1\.conv2\.bias" \(expected shape \[32\]\): the checkpoint is incomplete/);
  refused(variant(DIFFUSERS, (t) => {
    t.delete('decoder.up_blocks.0.upsamplers.0.conv.weight');
    t.delete('decoder.mid_block.attentions.0.to_v.bias');
  }), /2 tensors missing: "decoder\.mid_block\.attentions\.0\.to_v\.bias", "decoder\.up_blocks\.0\.upsamplers\.0\.conv\.weight"/);
  refused(variant(LDM, (t) => t.delete('post_quant_conv.weight')), /missing tensor "post_quant_conv\.weight"/);
});

test('tensors a decoder does not have are refused; a whole autoencoder\'s other parts are not read', () => {
  refused(variant(LDM, (t) => t.set('decoder.up.0.attn.0.q.weight', { dtype: 'F32', shape: [1], bytes: f32([0]) })),
    /a tensor that this VAE decoder does not have: "decoder\.up\.0\.attn\.0\.q\.weight": is this a Stable Diffusion VAE/);
  // One layout's names in the other's checkpoint.
  refused(variant(DIFFUSERS, (t) => rename(t, /^decoder\.conv_norm_out\./, 'decoder.norm_out.')), /2 tensors missing: "decoder\.conv_norm_out\.weight"/);
  refused(variant(DIFFUSERS, (t) => t.set('decoder.mid_block.attentions.0.query.weight', t.get('decoder.mid_block.attentions.0.to_q.weight')!)),
    /7 tensors missing: "decoder\.mid_block\.attentions\.0\.query\.bias"/);
  // Integer or NaN tensors in the encoder or the loss are not the decoder's business.
  const path = variant(LDM, (t) => {
    t.set('encoder.conv_in.weight', { dtype: 'I32', shape: [2], bytes: new Uint8Array(8) });
    t.set('loss.logvar', { dtype: 'F32', shape: [], bytes: f32([NaN]) });
  });
  assert.equal(inspectVae(path).config.levelChannels, [32, 64]);
  loadVae(path, backend);
});

test('wrong shapes, integer weights and non-finite values are refused', () => {
  refused(variant(LDM, (t) => { t.get('decoder.conv_out.weight')!.shape = [3, 32, 1, 9]; }),
    /tensor "decoder\.conv_out\.weight" has shape \[3, 32, 1, 9\], expected \[3, 32, 3, 3\] for this config/);
  refused(variant(LDM, (t) => { t.get('decoder.mid.attn_1.q.weight')!.shape = [64, 64, 1]; }), /has shape \[64, 64, 1\], expected \[64, 64\]/);
  refused(variant(LDM, (t) => { t.get('decoder.norm_out.bias')!.dtype = 'I16'; }), /tensor "decoder\.norm_out\.bias" is I16; VAE weights are floating point/);
  // The fixture's weights are F16; this one becomes F32, so that it can hold the infinity.
  refused(variant(LDM, (t) => t.set('decoder.norm_out.bias', { dtype: 'F32', shape: [32], bytes: f32([...new Array(31).fill(0), Infinity]) })),
    /tensor "decoder\.norm_out\.bias" holds Infinity at \[31\] \(flat index 31\): weights must be finite/, false);
});

test('checkpoints that are no VAE are refused by what their shapes say', () => {
  const dit = fixture('dit-d2-h96-p2.weights.safetensors');
  refused(dit, /no tensor named decoder\.up\.\*: is this a Stable Diffusion VAE/);
  refused(variant(LDM, (t) => { t.get('decoder.up.0.block.0.conv1.weight')!.shape = [48, 64, 3, 3]; }), /decoder level 0 has 48 channels, which GroupNorm's 32 groups do not divide/);
  refused(variant(LDM, (t) => rename(t, /^decoder\.up\.1\./, 'decoder.up.9.')), /10 decoder levels \(decoder\.up\.0\.\.9\) would upsample 512x/);
});

test.run();
