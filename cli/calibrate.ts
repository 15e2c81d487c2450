// `ditto calibrate`: the whole L2P workflow for a model in one command. Sample full-compute
// trajectories for calibration (class, seed) pairs, record the model's output at every step, and fit
// the weight matrix.
//
//   ditto calibrate [--model M] [--trajectories 50] [--steps 50] [--cfg g] [--fit lstsq|adam|direct]
//                   [--interval N | --full-steps ...] --out W.json [--save-trajectories T.safetensors]

import { UserError } from '../core/errors.js';
import { writeSafetensors } from '../core/safetensors.js';
import { BUNDLED_MODEL, inspectModel, loadModel, resolveModelPath } from '../models/pretrained.js';
import { FIT_METHODS, fitWeights, type FitMethod } from '../predictors/fit/fit.js';
import { gramMatrices } from '../predictors/fit/gram.js';
import { errorCount, teacherForcedLoss } from '../predictors/fit/objective.js';
import { makeTrajectories } from '../predictors/fit/trajectories.js';
import { reuseWeights, writeWeightsFile } from '../predictors/l2p.js';
import { calibrationPair, sampleCalibrationRuns } from '../predictors/pipeline.js';
import { createBackend, parseBackend } from './backend.js';
import { parseFlags, type CommandIo } from './flags.js';
import { formatJson } from './json.js';
import { cfgFromFlags, checkInputs, checkOutputs, checkTrajectoryBytes, given, hasScheduleFlags, MAX_IMAGES, scheduleFlagSpec, scheduleFromFlags, stepsFromFlags } from './options.js';
import { progress } from './progress.js';

export const calibrateUsage = `usage: ditto calibrate [--model M.safetensors] [--trajectories 50] [--steps 50] [--cfg g]
                       [--fit lstsq|adam|direct] [--interval N | --full-steps a,b,c] [--schedule paper|taylorseer|S.json]
                       --out W.json [--save-trajectories T.safetensors] [--batch 10] [--backend ...] [--json]
  --trajectories  how many full-compute runs (class i mod classes, seed ${calibrationPair(0, 1).seed} + i)
  --fit           adam (default: the official training, 200 Adam steps from plain reuse), lstsq (the
                  exact optimum of the same one-step loss: lower loss, but it can diverge when forecasts
                  feed later forecasts) or direct (one schedule: needs --interval or --full-steps)
  --batch         runs sampled together`;

export async function calibrateCommand(argv: string[], io: CommandIo): Promise<void> {
  const flags = parseFlags(argv, {
    model: { type: 'string' }, trajectories: { type: 'string' }, steps: { type: 'string' }, cfg: { type: 'string' },
    fit: { type: 'string' }, out: { type: 'string' }, 'save-trajectories': { type: 'string' }, batch: { type: 'string' },
    backend: { type: 'string' }, heads: { type: 'string' }, json: { type: 'boolean' }, ...scheduleFlagSpec,
  }, calibrateUsage);
  const backendChoice = parseBackend(flags.string('backend'));
  const outPath = flags.required('out');
  const fitName = flags.string('fit') ?? 'adam';
  if (!(FIT_METHODS as readonly string[]).includes(fitName)) throw new UserError(`unknown --fit "${fitName}": use one of ${FIT_METHODS.join(', ')}`);
  const method = fitName as FitMethod;
  if (method === 'direct' && !hasScheduleFlags(flags)) throw new UserError('--fit direct fits one schedule: pass --interval N or --full-steps a,b,c');
  const count = flags.integer('trajectories', { max: MAX_IMAGES }) ?? 50;
  const batch = Math.min(flags.integer('batch', { max: MAX_IMAGES }) ?? 10, count);
  const modelPath = resolveModelPath(flags.string('model'));
  const save = flags.string('save-trajectories');
  const inputs = given([['--model', modelPath]]);
  checkInputs(inputs);
  checkOutputs(given([['--out', outPath], ['--save-trajectories', save]]), [...inputs, { flag: 'the bundled model', path: BUNDLED_MODEL }]);
  const heads = flags.integer('heads');
  const { card, info: c } = inspectModel(modelPath, { heads });
  const steps = stepsFromFlags(flags, card);
  const cfgScale = cfgFromFlags(flags, card.cfgScale);
  const schedule = hasScheduleFlags(flags) ? scheduleFromFlags(flags, steps, 'paper') : undefined;
  checkTrajectoryBytes(count, steps, c.channels * c.height * c.width, '--trajectories');
  const backend = await createBackend(backendChoice, io.info, { batch });
  const model = loadModel(card, backend, { heads });

  const started = performance.now();
  const bar = progress('calibrating', count * steps);
  const { trajectories: data, shape } = await sampleCalibrationRuns({
    model, count, steps, cfgScale, batch, onProgress: (done) => bar.update(done),
    onRuns: (runs) => { if (!bar.shown) io.info(`calibration trajectories ${runs}/${count}`); },
  });
  bar.stop();
  const sampled = performance.now();

  const traj = makeTrajectories(data, shape, 'calibration');
  if (save) writeSafetensors(save, { trajectories: { dtype: 'F32', shape, data } }, { model: card.path, cfg_scale: String(cfgScale), seed_base: String(calibrationPair(0, 1).seed) });
  const { total: g } = gramMatrices(traj);
  const n = errorCount(count, steps, traj.size);
  const { weights, details } = fitWeights(g, steps, n, { method, schedule });
  writeWeightsFile(outPath, weights);
  const summary = {
    out: outPath, model: card.path, trajectories: count, steps, cfg_scale: cfgScale, fit: method, ...details,
    loss: teacherForcedLoss(g, steps, weights, n), reuse_loss: teacherForcedLoss(g, steps, reuseWeights(steps), n),
    seconds: { sampling: (sampled - started) / 1000, fit: (performance.now() - sampled) / 1000 },
  };
  if (flags.bool('json')) io.print(formatJson(summary));
  else {
    io.print(`sampled ${count} full-compute trajectories of ${steps} steps in ${summary.seconds.sampling.toFixed(1)} s${save ? ` (saved to ${save})` : ''}`);
    io.print(`fit ${method}: one-step loss ${summary.loss.toExponential(3)} (plain reuse ${summary.reuse_loss.toExponential(3)}); wrote ${outPath} in ${summary.seconds.fit.toFixed(2)} s`);
  }
}
