// `ditto predict`: roll a caching method out over one saved full-compute trajectory, exactly as the
// cached sampler would forecast it, and write what it produces.
//
//   ditto predict --method fora|taylorseer|foca|l2p [--order m] [--weights W.json]
//                 (--interval N | --full-steps a,b,c) [--schedule paper|taylorseer|S.json]
//                 --features F.safetensors --out O.safetensors [--errors] [--json]
//
// F holds `features` [S, ...]: the model's output at every step of a full-compute run. O gets
// `outputs` [S, ...]: F at the full steps and the method's forecast at the others, forecasts joining
// the history as at sampling time. --errors prints the per-step relative error against F.

import { UserError } from '../core/errors.js';
import { SafetensorsFile, writeSafetensors } from '../core/safetensors.js';
import { shapeString } from '../core/shape.js';
import { formatTable } from '../core/table.js';
import { readWeightsFile, requireForecastRows } from '../predictors/l2p.js';
import { createPredictor, defaultScheduleKind, METHODS, parseMethod } from '../predictors/methods.js';
import { relativeL2, rollout } from '../predictors/rollout.js';
import { speedup } from '../predictors/schedule.js';
import { parseFlags, type CommandIo } from './flags.js';
import { formatJson } from './json.js';
import { checkInputs, checkOutputs, given, orderFromFlags, scheduleFlagSpec, scheduleFromFlags } from './options.js';

export const predictUsage = `usage: ditto predict --method ${METHODS.join('|')} [--order m] [--weights W.json]
                     (--interval N | --full-steps a,b,c) [--schedule paper|taylorseer|S.json]
                     --features F.safetensors --out O.safetensors [--errors] [--json]
  --order m        TaylorSeer's maximum order (default 2)
  --weights W.json L2P's matrix, in the official format (a JSON list of lists; ditto fit makes one)
  --interval N     the paper's schedule for l2p, TaylorSeer's (steps 0 1 2, then every N) for the others,
                   unless --schedule says otherwise
  --full-steps     the full-compute steps, starting at 0
  --errors         print the per-step relative error against F`;

/** `features` [S, ...] as one array per step. */
function readFeatures(path: string): { steps: Float32Array[]; shape: number[] } {
  const file = SafetensorsFile.open(path);
  try {
    if (!file.has('features')) {
      throw new UserError(`${path}: no tensor "features" (the file has ${[...file.tensors.keys()].slice(0, 5).join(', ') || 'none'}): predict needs features [S, ...], the output at every step`);
    }
    const info = file.info('features');
    if (info.shape.length < 2) throw new UserError(`${path}: features has shape ${shapeString(info.shape)}, expected [S, ...] (steps, then the output's own dims)`);
    if (!['F32', 'F16', 'BF16', 'F64'].includes(info.dtype)) throw new UserError(`${path}: features has dtype ${info.dtype}, expected floating point`);
    const data = file.readF32('features');
    const S = info.shape[0]!, D = data.length / S;
    const bad = data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new UserError(`${path}: features at step ${Math.floor(bad / D)} holds ${data[bad]}: the data must be finite`);
    if (S < 2) throw new UserError(`${path}: features has ${S} step; there is nothing to forecast`);
    return { steps: Array.from({ length: S }, (_, s) => data.subarray(s * D, (s + 1) * D)), shape: info.shape };
  } finally {
    file.close();
  }
}

export async function predictCommand(argv: string[], io: CommandIo): Promise<void> {
  const flags = parseFlags(argv, {
    method: { type: 'string' },
    order: { type: 'string' },
    weights: { type: 'string' },
    ...scheduleFlagSpec,
    features: { type: 'string' },
    out: { type: 'string' },
    errors: { type: 'boolean' },
    json: { type: 'boolean' },
  }, predictUsage);
  const method = parseMethod(flags.required('method'));
  const featuresPath = flags.required('features');
  const outPath = flags.required('out');
  const order = orderFromFlags(flags);
  const weightsPath = flags.string('weights');
  if (method === 'l2p' && weightsPath === undefined) throw new UserError('--method l2p needs --weights W.json (make one with ditto fit)');
  const inputs = given([['--features', featuresPath], ['--weights', weightsPath]]);
  checkInputs(inputs);
  checkOutputs([{ flag: '--out', path: outPath }], inputs);

  const started = performance.now();
  const { steps: features, shape } = readFeatures(featuresPath);
  const S = features.length;
  const schedule = scheduleFromFlags(flags, S, defaultScheduleKind(method));
  const weights = weightsPath === undefined ? undefined : readWeightsFile(weightsPath, S);
  if (weights) requireForecastRows(weights, schedule, weightsPath!);
  const predictor = createPredictor({ method, order, weights }, S);
  const { outputs, terms } = rollout(features, schedule, predictor);

  const D = features[0]!.length;
  const flat = new Float32Array(S * D);
  outputs.forEach((o, s) => flat.set(o, s * D));
  writeSafetensors(outPath, { outputs: { dtype: 'F32', shape, data: flat } }, {
    method: predictor.name, schedule: schedule.label, full_steps: schedule.fullSteps.join(','),
  });

  const errors = outputs.map((o, s) => relativeL2(o, features[s]!));
  const skipped = errors.filter((_, s) => !schedule.isFull(s));
  const mean = skipped.reduce((a, e) => a + e, 0) / Math.max(1, skipped.length);
  const max = Math.max(0, ...skipped);
  const seconds = (performance.now() - started) / 1000;
  if (flags.bool('json')) {
    io.print(formatJson({
      method: predictor.name, schedule: schedule.label, fullSteps: schedule.fullSteps, steps: S, speedup: speedup(schedule),
      out: outPath, meanError: mean, maxError: max, errors, seconds,
    }));
    return;
  }
  if (flags.bool('errors')) {
    const rows = errors.map((e, s) => [String(s), schedule.isFull(s) ? 'full' : 'forecast', String(terms[s]?.length ?? ''), e.toExponential(3)]);
    io.print(formatTable(['step', 'kind', 'terms', '||O-F||/||F||'], rows));
  }
  io.print(`${predictor.name} on ${schedule.label} (full steps ${schedule.fullSteps.join(' ')}; ${speedup(schedule).toFixed(2)}x fewer model calls)`);
  io.print(`relative error on the ${skipped.length} forecast steps: mean ${mean.toExponential(3)}, max ${max.toExponential(3)}`);
  io.print(`wrote outputs ${shapeString(shape)} to ${outPath} in ${seconds.toFixed(2)} s`);
}
