// `ditto sample`: images from a class-conditional DiT (the bundled MNIST model by default), with or
// without a forecasting cache.
//
//   ditto sample [--model M] --class 3[,5,...] [--seed s] [--per-class K] [--steps 50] [--cfg g]
//                [--cache none|fora|taylorseer|foca|l2p] [--interval N | --full-steps a,b,c]
//                [--order m] [--weights W.json] --out img.png|samples.safetensors [--backend ...]

import { writeSafetensors } from '../core/safetensors.js';
import { UserError } from '../core/errors.js';
import { grid, toImages, upscale } from '../models/image.js';
import { openModel, type ModelCard } from '../models/pretrained.js';
import { readWeightsFile } from '../predictors/l2p.js';
import { createPredictor, defaultScheduleKind, METHODS, parseMethod, resolveSchedule, type Method } from '../predictors/methods.js';
import { generate } from '../predictors/pipeline.js';
import type { Predictor } from '../predictors/predictor.js';
import { fullSchedule, speedup, type Schedule } from '../predictors/schedule.js';
import { createBackend, parseBackend } from './backend.js';
import { parseFlags, type CommandIo, type Flags } from './flags.js';
import { writePng } from '../models/png.js';
import { hasScheduleFlags, scheduleFlagSpec, scheduleFromFlags } from './predict.js';
import { progress } from './progress.js';

export const sampleUsage = `usage: ditto sample [--model M.safetensors] --class c[,c,...] [--seed s] [--per-class K]
                    [--steps 50] [--cfg g] [--cache none|${METHODS.join('|')}] [--interval N | --full-steps a,b,c]
                    [--schedule paper|taylorseer] [--order m] [--weights W.json]
                    --out img.png|samples.safetensors [--backend auto|cpu|webgpu] [--heads H] [--json]
  --model      a DiT checkpoint (default: the bundled MNIST model)
  --class      one or more class ids; several make a grid (one row per class)
  --seed       noise seed of the first column (default 0); --per-class K draws seeds s..s+K-1
  --steps/--cfg default to the model's own (from its metadata)
  --cache      forecast the skipped steps with this method (default none: every step runs the model)
  --interval   the schedule (the paper's for l2p, TaylorSeer's for the others; default 5)
  --weights    L2P's matrix (default: the one calibrated for the model, beside it)`;

export const cacheFlagSpec = {
  cache: { type: 'string' },
  order: { type: 'string' },
  weights: { type: 'string' },
  ...scheduleFlagSpec,
} as const;

export interface CachePlan {
  method: Method | 'none';
  schedule: Schedule;
  predictor?: Predictor;
  label: string;
}

/** The schedule and predictor a command's --cache / --interval / --weights flags ask for. */
export function cacheFromFlags(flags: Flags, steps: number, card: ModelCard): CachePlan {
  const cache = flags.string('cache') ?? 'none';
  if (cache === 'none') {
    if (hasScheduleFlags(flags)) throw new UserError('--interval/--full-steps/--schedule need a --cache method');
    return { method: 'none', schedule: fullSchedule(steps), label: 'none' };
  }
  const method = parseMethod(cache);
  return cachePlan(method, steps, card, {
    schedule: hasScheduleFlags(flags) ? scheduleFromFlags(flags, steps, defaultScheduleKind(method)) : undefined,
    order: flags.integer('order'),
    weightsPath: flags.string('weights'),
  });
}

/** A method at a schedule (default: interval 5 of the method's usual kind) for a model. */
export function cachePlan(method: Method, steps: number, card: ModelCard, o: { schedule?: Schedule; interval?: number; order?: number; weightsPath?: string } = {}): CachePlan {
  const schedule = o.schedule ?? resolveSchedule({ steps, interval: o.interval ?? 5 }, defaultScheduleKind(method));
  let weights;
  if (method === 'l2p') {
    const path = o.weightsPath ?? card.l2pWeights;
    if (!path) throw new UserError(`l2p needs a weight matrix and ${card.path} has none beside it: run ditto calibrate, then pass --weights W.json`);
    weights = readWeightsFile(path, steps);
  }
  const predictor = createPredictor({ method, order: o.order, weights }, steps);
  return { method, schedule, predictor, label: `${method}, ${schedule.label}: ${schedule.fullSteps.length}/${steps} full, ${speedup(schedule).toFixed(2)}x fewer model calls` };
}

export function parseClasses(value: string, numClasses: number): number[] {
  const classes = value.split(',').map((s) => Number(s.trim()));
  for (const c of classes) {
    if (!Number.isInteger(c) || c < 0 || c >= numClasses) throw new UserError(`--class ${value}: each class must be an integer from 0 to ${numClasses - 1}`);
  }
  return classes;
}

export async function sampleCommand(argv: string[], io: CommandIo): Promise<void> {
  const flags = parseFlags(argv, {
    model: { type: 'string' }, class: { type: 'string' }, seed: { type: 'string' }, 'per-class': { type: 'string' },
    steps: { type: 'string' }, cfg: { type: 'string' }, out: { type: 'string' }, backend: { type: 'string' },
    heads: { type: 'string' }, json: { type: 'boolean' }, ...cacheFlagSpec,
  }, sampleUsage);
  const out = flags.required('out');
  if (!/\.(png|safetensors)$/.test(out)) throw new UserError(`--out ${out}: give a .png image or a .safetensors file of samples`);
  const classArg = flags.required('class');
  const seed = flags.number('seed') ?? 0;
  if (!Number.isInteger(seed) || seed < 0) throw new UserError(`--seed must be a non-negative integer, got ${seed}`);
  const perClass = flags.integer('per-class') ?? 1;
  const batch = classArg.split(',').length * perClass;
  const backend = await createBackend(parseBackend(flags.string('backend')), io.info, { batch });
  const model = openModel(flags.string('model'), backend, { heads: flags.integer('heads') });
  const { card, dit } = model;
  if (out.endsWith('.png') && !card.dataRange) {
    throw new UserError(`${card.path} has no __metadata__.data_range: it samples latents that need a VAE decoder; write them with --out samples.safetensors`);
  }
  const steps = flags.integer('steps') ?? card.steps;
  const cfgScale = flags.number('cfg') ?? card.cfgScale;
  const classes = parseClasses(classArg, dit.config.numClasses).flatMap((c) => new Array<number>(perClass).fill(c));
  const seeds = classes.map((_, i) => seed + (i % perClass));
  const plan = cacheFromFlags(flags, steps, card);

  const bar = progress('sampling', steps);
  const result = await generate({
    model, classes, seeds, steps, cfgScale, schedule: plan.schedule, predictor: plan.predictor,
    // A GPU backend only records a step; waiting for each keeps the bar honest, at a cost of about
    // 10 ms a step on lavapipe (the GPU idles while the next step is recorded).
    timing: bar.shown,
    onStep: (s) => bar.update(s.step + 1, s.full ? 'model' : 'forecast'),
  });
  bar.stop();

  // Small images (MNIST's 28 px) are enlarged to be visible; the metrics never see these.
  const images = grid(toImages(result.samples, result.shape, card.dataRange!), perClass);
  if (out.endsWith('.png')) writePng(out, upscale(images, Math.max(1, Math.floor(128 / result.shape[2]))));
  else writeSafetensors(out, { samples: { dtype: 'F32', shape: result.shape, data: result.samples } }, { classes: classes.join(','), seeds: seeds.join(',') });
  const s = result.stats;
  const summary = {
    out, backend: backend.name, classes, seeds, steps, cfg_scale: cfgScale, cache: plan.method,
    full_steps: s.forwards, skipped_steps: s.skipped, flops_speedup: (s.flops.model + s.flops.saved) / (s.flops.model + s.flops.predictor), seconds: s.seconds,
  };
  if (flags.bool('json')) io.print(JSON.stringify(summary));
  else io.print(`wrote ${out}: ${classes.length} image${classes.length > 1 ? 's' : ''}, ${steps} steps (${s.forwards} model, ${s.skipped} forecast: ${plan.label}), cfg ${cfgScale}, ${s.seconds.toFixed(2)} s on ${backend.name}`);
}
