// `ditto fit`: learn an L2P weight matrix from full-compute trajectories.
//
//   ditto fit --trajectories T.safetensors --method adam|lstsq|direct --out W.json
//             [--adam-steps 200] [--lr 0.01] [--ridge 1e-10]
//             [--interval N | --full-steps a,b,c] [--schedule paper|taylorseer] [--json]
//
// T holds `trajectories` [B, S, ...]. W.json is written in the official format (a JSON list of S
// lists of S numbers). The data is read once, into the S x S Gram matrix; every method then works on
// that matrix alone (predictors/fit/gram.ts). `direct` needs a schedule; with the others a schedule
// is optional and only adds the rollout error on it to the summary.

import { UserError } from '../core/errors.js';
import { shapeString } from '../core/shape.js';
import { FIT_METHODS, fitWeights, type FitMethod } from '../predictors/fit/fit.js';
import { gramMatrices } from '../predictors/fit/gram.js';
import { DEFAULT_RIDGE } from '../predictors/fit/lstsq.js';
import { errorCount, teacherForcedLoss } from '../predictors/fit/objective.js';
import { readTrajectories } from '../predictors/fit/trajectories.js';
import { L2PPredictor, reuseWeights, writeWeightsFile, type Weights } from '../predictors/l2p.js';
import type { Schedule } from '../predictors/schedule.js';
import { rolloutErrorsFromGram, unroll } from '../predictors/unroll.js';
import { parseFlags, type CommandIo } from './flags.js';
import { formatJson } from './json.js';
import { checkInputs, checkOutputs, hasScheduleFlags, scheduleFlagSpec, scheduleFromFlags } from './options.js';

/** Each Adam step costs O(S^3) on the Gram matrix: a million is minutes of work, and no fit needs more. */
const MAX_ADAM_STEPS = 1_000_000;

export const fitUsage = `usage: ditto fit --trajectories T.safetensors --method adam|lstsq|direct --out W.json
                 [--adam-steps 200] [--lr 0.01] [--ridge ${DEFAULT_RIDGE}]
                 [--interval N | --full-steps a,b,c] [--schedule paper|taylorseer] [--json]
  adam     the official training: Adam from plain reuse on the one-step loss with the true history
           (--adam-steps, default 200; the official script runs 201; --lr, default 0.01)
  lstsq    the exact optimum of the same loss, row by row from the Gram matrix (--ridge, relative)
  direct   for one schedule: each skipped step regressed on the full steps only (needs --interval or
           --full-steps; with --interval the paper's schedule unless --schedule taylorseer)`;


export async function fitCommand(argv: string[], io: CommandIo): Promise<void> {
  const flags = parseFlags(argv, {
    trajectories: { type: 'string' },
    method: { type: 'string' },
    out: { type: 'string' },
    'adam-steps': { type: 'string' },
    lr: { type: 'string' },
    ridge: { type: 'string' },
    ...scheduleFlagSpec,
    json: { type: 'boolean' },
  }, fitUsage);
  const methodName = flags.required('method');
  if (!(FIT_METHODS as readonly string[]).includes(methodName)) throw new UserError(`unknown fit method "${methodName}": use one of ${FIT_METHODS.join(', ')}`);
  const method = methodName as FitMethod;
  const path = flags.required('trajectories');
  const outPath = flags.required('out');
  checkInputs([{ flag: '--trajectories', path }]);
  checkOutputs([{ flag: '--out', path: outPath }], [{ flag: '--trajectories', path }]);
  const adamSteps = flags.integer('adam-steps', { max: MAX_ADAM_STEPS }) ?? 200;
  const lr = flags.number('lr') ?? 0.01;
  if (!(lr > 0)) throw new UserError(`--lr must be positive, got ${lr}`);
  const ridge = flags.number('ridge') ?? DEFAULT_RIDGE;
  if (!(ridge >= 0)) throw new UserError(`--ridge must be >= 0, got ${ridge}`);
  if (method !== 'adam' && (flags.string('adam-steps') !== undefined || flags.string('lr') !== undefined)) {
    throw new UserError(`--adam-steps and --lr are Adam's settings; ${method} is closed-form`);
  }
  if (method === 'direct' && !hasScheduleFlags(flags)) throw new UserError('fit direct fits one schedule: pass --interval N or --full-steps a,b,c');

  const t0 = performance.now();
  const traj = readTrajectories(path);
  const S = traj.steps;
  const schedule: Schedule | undefined = hasScheduleFlags(flags) ? scheduleFromFlags(flags, S, 'paper') : undefined;
  const t1 = performance.now();
  let lastReport = t1;
  const { total: g } = gramMatrices(traj, {
    onRun: (b) => {
      if (performance.now() - lastReport > 1000) {
        io.info(`Gram matrix: ${b + 1}/${traj.batch} trajectories`);
        lastReport = performance.now();
      }
    },
  });
  const t2 = performance.now();
  const n = errorCount(traj.batch, S, traj.size);

  const { weights, details } = fitWeights(g, S, n, {
    method, schedule, adamSteps, lr, ridge,
    onAdamStep: (step, loss) => {
      if (step === 1 || step % 50 === 0) io.info(`adam step ${step}/${adamSteps}: loss ${loss.toExponential(4)}`);
    },
  });
  const t3 = performance.now();
  writeWeightsFile(outPath, weights);

  const loss = teacherForcedLoss(g, S, weights, n);
  const reuseLoss = teacherForcedLoss(g, S, reuseWeights(S), n);
  let rollout: { schedule: string; meanError: number; reuseMeanError: number } | undefined;
  if (schedule) {
    const mean = (w: Weights) => {
      const errs = rolloutErrorsFromGram(unroll(new L2PPredictor(w), schedule), g, S).filter((_, s) => !schedule.isFull(s));
      return errs.reduce((a, e) => a + e, 0) / Math.max(1, errs.length);
    };
    rollout = { schedule: schedule.label, meanError: mean(weights), reuseMeanError: mean(reuseWeights(S)) };
  }
  const summary = {
    method, out: outPath, trajectories: [traj.batch, S, ...traj.elementShape], ...details,
    loss, reuseLoss, rollout,
    seconds: { read: (t1 - t0) / 1000, gram: (t2 - t1) / 1000, fit: (t3 - t2) / 1000, total: (performance.now() - t0) / 1000 },
  };
  if (flags.bool('json')) {
    io.print(formatJson(summary));
    return;
  }
  io.print(`fit ${method} on ${traj.batch} trajectories of ${S} steps x ${shapeString(traj.elementShape)}`);
  io.print(`one-step loss with the true history: ${loss.toExponential(4)} (plain reuse: ${reuseLoss.toExponential(4)})`);
  if (rollout) io.print(`rollout on ${rollout.schedule}: mean relative error on forecast steps ${rollout.meanError.toExponential(3)} (plain reuse: ${rollout.reuseMeanError.toExponential(3)})`);
  if (method === 'direct') io.print(`this W is tied to ${schedule!.label} (full steps ${schedule!.fullSteps.join(' ')}): use it with the same schedule`);
  const s = summary.seconds;
  io.print(`wrote ${S}x${S} W to ${outPath} in ${s.total.toFixed(2)} s (read ${s.read.toFixed(2)}, Gram ${s.gram.toFixed(2)}, fit ${s.fit.toFixed(3)})`);
}
