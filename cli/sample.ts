// `ditto sample`: images from a class-conditional DiT (the bundled MNIST model by default), with or
// without a forecasting cache. A latent model (an official DiT) draws latents; with --vae they are
// decoded into images in the same run (cli/decode.ts).
//
//   ditto sample [--model M] --class 3[,5,...] [--seed s] [--per-class K] [--steps 50] [--cfg g]
//                [--cache none|fora|taylorseer|foca|l2p] [--interval N | --full-steps a,b,c]
//                [--order m] [--weights W.json] [--vae V [--scale s]] --out img.png|samples.safetensors
//                [--backend ...]

import { writeSafetensors } from '../core/safetensors.js';
import { UserError } from '../core/errors.js';
import { grid, toImages, upscale } from '../models/image.js';
import { writePng } from '../models/png.js';
import { BUNDLED_MODEL, inspectModel, loadModel, resolveModelPath } from '../models/pretrained.js';
import { METHODS } from '../predictors/methods.js';
import { generate, imagesPerChunk } from '../predictors/pipeline.js';
import { inspectVae } from '../models/vae/weights.js';
import { createBackend, parseBackend } from './backend.js';
import { checkImageBytes, DECODE_ON_EMULATED, decodeBackend, decodeWithVae, scaleFromFlags, writeImageGrid } from './decode.js';
import { parseFlags, type CommandIo } from './flags.js';
import { formatJson } from './json.js';
import { cacheFlagSpec, cacheFromFlags, cfgFromFlags, checkImageCount, checkInputs, checkOutputs, classCount, given, MAX_IMAGES, parseClasses, seedFromFlags, stepsFromFlags } from './options.js';
import { progress } from './progress.js';

export const sampleUsage = `usage: ditto sample [--model M.safetensors] --class c[,c,...] [--seed s] [--per-class K]
                    [--steps 50] [--cfg g] [--cache none|${METHODS.join('|')}] [--interval N | --full-steps a,b,c]
                    [--schedule paper|taylorseer|S.json] [--order m] [--weights W.json] [--vae V [--scale 0.18215]]
                    --out img.png|samples.safetensors [--backend auto|cpu|webgpu] [--heads H] [--json]
  --model      a DiT checkpoint or a FLUX one with class prompts, or a bundled model's name:
               mnist-dit (the default) or mnist-flux
  --class      one or more class ids; several make a grid (one row per class)
  --seed       noise seed of the first column (default 0); --per-class K draws seeds s..s+K-1
  --steps/--cfg default to the model's own (from its metadata)
  --cache      forecast the skipped steps with this method (default none: every step runs the model)
  --interval   the schedule (the paper's for l2p, TaylorSeer's for the others; default 5)
  --schedule   paper or taylorseer with --interval, or a schedule from ditto search (S.json: its method,
               and for l2p the matrix it was searched with, unless --cache / --weights say otherwise)
  --weights    L2P's matrix (default: the one calibrated for the model, beside it)
  --vae        a Stable Diffusion VAE that decodes a latent model's samples into images (as ditto decode);
               --out samples.safetensors then holds the images too
  --scale      the VAE's scale factor (default 0.18215)`;

export async function sampleCommand(argv: string[], io: CommandIo): Promise<void> {
  const flags = parseFlags(argv, {
    model: { type: 'string' }, class: { type: 'string' }, seed: { type: 'string' }, 'per-class': { type: 'string' },
    steps: { type: 'string' }, cfg: { type: 'string' }, out: { type: 'string' }, backend: { type: 'string' },
    heads: { type: 'string' }, json: { type: 'boolean' }, vae: { type: 'string' }, scale: { type: 'string' }, ...cacheFlagSpec,
  }, sampleUsage);
  const backendChoice = parseBackend(flags.string('backend'));
  const out = flags.required('out');
  if (!/\.(png|safetensors)$/.test(out)) throw new UserError(`--out ${out}: give a .png image or a .safetensors file of samples`);
  const classArg = flags.required('class');
  const perClass = flags.integer('per-class', { max: MAX_IMAGES }) ?? 1;
  const batch = classCount(classArg) * perClass;
  checkImageCount(batch, `--class ${classArg} with --per-class ${perClass}`);
  const seed = seedFromFlags(flags, perClass);
  const modelPath = resolveModelPath(flags.string('model'));
  const vaePath = flags.string('vae');
  if (flags.string('scale') !== undefined && vaePath === undefined) throw new UserError('--scale is the VAE\'s scale factor: add --vae V (or leave --scale out)');
  const scale = scaleFromFlags(flags);
  const inputs = given([['--model', modelPath], ['--weights', flags.string('weights')], ['--vae', vaePath]]);
  checkInputs(inputs);
  checkOutputs([{ flag: '--out', path: out }], [...inputs, { flag: 'the bundled model', path: BUNDLED_MODEL }]);
  const heads = flags.integer('heads');
  const { card, info } = inspectModel(modelPath, { heads });
  const vae = vaePath === undefined ? null : inspectVae(vaePath);
  if (vae) {
    if (card.dataRange) throw new UserError(`--vae decodes latents, but ${card.path} samples images (it has __metadata__.data_range): leave --vae out`);
    if (vae.config.latentChannels !== info.channels) {
      throw new UserError(`${vaePath}: this VAE decodes latents of ${vae.config.latentChannels} channels, but ${card.path} samples ${info.channels}: pass the VAE the model was trained with`);
    }
    checkImageBytes(vae.config, [batch, info.channels, info.height, info.width], `--class ${classArg} with --per-class ${perClass}`);
  } else if (out.endsWith('.png') && !card.dataRange) {
    throw new UserError(`${card.path} has no __metadata__.data_range: it samples latents that need a VAE decoder; pass --vae V, or write them with --out samples.safetensors`);
  }
  const steps = stepsFromFlags(flags, card);
  const cfgScale = cfgFromFlags(flags, card.cfgScale);
  const classes = parseClasses(classArg, info.numClasses).flatMap((c) => new Array<number>(perClass).fill(c));
  const seeds = classes.map((_, i) => seed + (i % perClass));
  const plan = cacheFromFlags(flags, steps, card);

  const backend = await createBackend(backendChoice, io.info, { batch, ...(vae ? { emulatedWins: DECODE_ON_EMULATED } : {}) });
  const vaeBackend = vae && decodeBackend(backend, backendChoice, vae.config, [batch, info.channels, info.height, info.width], io.info);
  const model = loadModel(card, backend, { heads });
  const bar = progress('sampling', steps * Math.ceil(classes.length / imagesPerChunk(model, cfgScale)));
  const result = await generate({
    model, classes, seeds, steps, cfgScale, schedule: plan.schedule, predictor: plan.predictor,
    // A GPU backend only records a step; waiting for each keeps the bar honest, at a cost of about
    // 10 ms a step on lavapipe (the GPU idles while the next step is recorded).
    timing: bar.shown,
    onStep: (s) => bar.update(s.chunk * steps + s.step + 1, `${s.full ? 'model' : 'forecast'}${s.chunks > 1 ? `, chunk ${s.chunk + 1}/${s.chunks}` : ''}`),
  });
  bar.stop();
  const decoded = vaeBackend ? await decodeWithVae(vaePath!, vaeBackend, result.samples, result.shape, scale) : null;

  if (out.endsWith('.png') && decoded) {
    writeImageGrid(out, decoded.images, decoded.shape, perClass);
  } else if (out.endsWith('.png')) {
    // Small images (MNIST's 28 px) are enlarged to be visible; the metrics never see these.
    const images = grid(toImages(result.samples, result.shape, card.dataRange!), perClass);
    writePng(out, upscale(images, Math.max(1, Math.floor(128 / result.shape[2]))));
  } else {
    const tensors = {
      samples: { dtype: 'F32' as const, shape: result.shape, data: result.samples },
      ...(decoded ? { images: { dtype: 'F32' as const, shape: decoded.shape, data: decoded.images } } : {}),
    };
    writeSafetensors(out, tensors, { classes: classes.join(','), seeds: seeds.join(','), ...(decoded ? { scale: String(scale) } : {}) });
  }
  const s = result.stats;
  const summary = {
    out, backend: backend.name, classes, seeds, steps, cfg_scale: cfgScale, cache: plan.method, images: decoded?.shape ?? result.shape,
    full_steps: s.forwards, skipped_steps: s.skipped, flops_speedup: (s.flops.model + s.flops.saved) / (s.flops.model + s.flops.predictor), seconds: s.seconds,
  };
  if (flags.bool('json')) io.print(formatJson(summary));
  else io.print(`wrote ${out}: ${classes.length} image${classes.length > 1 ? 's' : ''}, ${steps} steps (${s.forwards} model, ${s.skipped} forecast: ${plan.label}), cfg ${cfgScale}, ${s.seconds.toFixed(2)} s on ${backend.name}`);
}
