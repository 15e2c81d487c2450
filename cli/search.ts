// `ditto search`: which K steps should run the model, for one caching method on one model, chosen
// from data (predictors/search/search.ts explains the search).
//
//   ditto search [--model M] --method l2p|l2p-direct|taylorseer|foca|fora --full-steps K
//                [--trajectories T.safetensors] [--weights W.json] [--seeds 16] [--evaluations 32]
//                [--steps S] [--cfg g] --out S.json [--backend ...] [--json]
//
// It samples full compute on the first --seeds CALIBRATION pairs (never the benchmark's evaluation
// seeds), which give the reference images and, without --trajectories, the Gram matrix the proxy and
// the L2P fits use; then every candidate is scored by sampling those pairs with the cache. Each real
// evaluation is appended to S.json.log as it finishes: run the same command again after a stop and
// the finished evaluations are read back instead of sampled again.

import { createHash } from 'node:crypto';
import { appendFileSync, existsSync } from 'node:fs';
import { UserError } from '../core/errors.js';
import { readTextFile, writeFileAtomic } from '../core/files.js';
import { toImages } from '../models/image.js';
import { BUNDLED_MODEL, inspectModel, loadModel, resolveModelPath } from '../models/pretrained.js';
import { samplerFor } from '../models/card.js';
import { fitWeights } from '../predictors/fit/fit.js';
import { gramMatrices } from '../predictors/fit/gram.js';
import { errorCount } from '../predictors/fit/objective.js';
import { makeTrajectories, readTrajectories, type Trajectories } from '../predictors/fit/trajectories.js';
import { formatWeights, readWeightsFile, type Weights } from '../predictors/l2p.js';
import { CACHE_METHODS, officialSchedule, scheduledPredictor, scheduledWeights, type CacheMethod } from '../predictors/methods.js';
import { calibrationPair, generate, sampleCalibrationRuns } from '../predictors/pipeline.js';
import { finalSampleError, finalSampleWeights } from '../predictors/search/proxy.js';
import { writeScheduleFile } from '../predictors/search/schedule-file.js';
import { searchSchedule, type Evaluation, type FullSteps } from '../predictors/search/search.js';
import { explicitSchedule, strip, type Schedule } from '../predictors/schedule.js';
import { meanPsnr, reference } from '../bench/fidelity.js';
import { createBackend, parseBackend } from './backend.js';
import { parseFlags, type CommandIo } from './flags.js';
import { formatJson } from './json.js';
import { cfgFromFlags, checkInputs, checkOutputs, checkTrajectoryBytes, given, MAX_IMAGES, stepsFromFlags } from './options.js';
import { progress } from './progress.js';

export const searchUsage = `usage: ditto search [--model M] --method ${CACHE_METHODS.join('|')} --full-steps K
                    [--trajectories T.safetensors] [--weights W.json] [--seeds 16] [--evaluations 32]
                    [--steps S] [--cfg g] --out S.json [--backend auto|cpu|webgpu] [--heads H] [--json]
  --method       the caching method the schedule is for (l2p-direct refits its matrix per candidate)
  --full-steps   K, how many steps run the model (step 0 always does)
  --seeds        calibration runs the candidates are scored on (class i mod classes, seed ${calibrationPair(0, 1).seed} + i)
  --evaluations  candidates scored by real sampling, at most (each costs one cached run of --seeds images)
  --trajectories calibration trajectories (ditto calibrate --save-trajectories) for the proxy and the
                 L2P fits, instead of the --seeds runs
  --weights      l2p's matrix (default: fitted from --trajectories as calibrate does, else the model's own
                 calibrated W, else fitted from the --seeds runs)
  --out          the schedule: {"full_steps", "method", "steps", "score_db", ...}; use it with
                 ditto sample --schedule S.json and ditto bench cache --schedule S.json.
                 S.json.log keeps every finished evaluation: the same command resumes from it`;

/** Real evaluations in one search: more is a typo (each one samples --seeds images). */
const MAX_EVALUATIONS = 10_000;

/** A short fingerprint of what a log's scores depend on beyond the flags (the L2P matrix). */
function fingerprint(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/** The evaluation log beside S.json: a header line naming the search, then one line per evaluation. */
class EvaluationLog {
  readonly done = new Map<string, number>();

  constructor(readonly path: string, header: Record<string, unknown>) {
    const head = JSON.stringify(header);
    if (!existsSync(path)) {
      writeFileAtomic(path, `${head}\n`);
      return;
    }
    const lines = readTextFile(path, 'evaluation log').split('\n').filter(Boolean);
    if (lines[0] !== head) {
      throw new UserError(`${path} holds the log of another search (${lines[0]?.slice(0, 80) ?? 'empty'}...): delete it to start over, or choose another --out`);
    }
    // A line cut short by a stop is dropped: that evaluation runs again.
    for (const line of lines.slice(1)) {
      try {
        const e = JSON.parse(line) as { full_steps: number[]; score_db: number | null };
        this.done.set(e.full_steps.join(','), e.score_db ?? Infinity);
      } catch {
        break;
      }
    }
  }

  add(fullSteps: FullSteps, score: number): void {
    appendFileSync(this.path, `${JSON.stringify({ full_steps: fullSteps, score_db: Number.isFinite(score) ? score : null })}\n`);
  }
}

export async function searchCommand(argv: string[], io: CommandIo): Promise<void> {
  const flags = parseFlags(argv, {
    model: { type: 'string' }, method: { type: 'string' }, 'full-steps': { type: 'string' }, trajectories: { type: 'string' },
    weights: { type: 'string' }, seeds: { type: 'string' }, evaluations: { type: 'string' }, steps: { type: 'string' },
    cfg: { type: 'string' }, out: { type: 'string' }, backend: { type: 'string' }, heads: { type: 'string' }, json: { type: 'boolean' },
  }, searchUsage);
  const backendChoice = parseBackend(flags.string('backend'));
  const methodName = flags.required('method');
  if (!(CACHE_METHODS as readonly string[]).includes(methodName)) throw new UserError(`unknown --method "${methodName}": use one of ${CACHE_METHODS.join(', ')}`);
  const method = methodName as CacheMethod;
  const budgetText = flags.required('full-steps');
  if (!/^\d+$/.test(budgetText)) throw new UserError(`--full-steps is the NUMBER of steps that run the model (e.g. --full-steps 7), got "${budgetText}"`);
  const outPath = flags.required('out');
  const logPath = `${outPath}.log`;
  const modelPath = resolveModelPath(flags.string('model'));
  const trajPath = flags.string('trajectories'), weightsPath = flags.string('weights');
  if (weightsPath !== undefined && method !== 'l2p') throw new UserError(`--weights is L2P's matrix: --method ${method} takes none (leave --weights out)`);
  const seedCount = flags.integer('seeds', { max: MAX_IMAGES }) ?? 16;
  const evaluations = flags.integer('evaluations', { max: MAX_EVALUATIONS }) ?? 32;
  const inputs = given([['--model', modelPath], ['--trajectories', trajPath], ['--weights', weightsPath]]);
  checkInputs(inputs);
  checkOutputs(given([['--out', outPath], ['the evaluation log', logPath]]), [...inputs, { flag: 'the bundled model', path: BUNDLED_MODEL }]);
  const heads = flags.integer('heads');
  const { card, info: c } = inspectModel(modelPath, { heads });
  if (!card.dataRange) throw new UserError(`${card.path} has no __metadata__.data_range: the search scores images and needs a pixel-space model`);
  const steps = stepsFromFlags(flags, card);
  const cfgScale = cfgFromFlags(flags, card.cfgScale);
  const k = Number(budgetText);
  if (k < 1 || k >= steps) throw new UserError(`--full-steps ${k}: choose from 1 to ${steps - 1} of the ${steps} steps (${steps} is full compute)`);
  const size = c.channels * c.height * c.width;
  checkTrajectoryBytes(seedCount, steps, size, '--seeds');
  const saved = trajPath ? readTrajectories(trajPath) : undefined;
  if (saved && (saved.steps !== steps || saved.size !== size)) {
    throw new UserError(`${trajPath} holds ${saved.steps}-step trajectories of ${saved.size} elements, but this search samples ${steps} steps of ${size}: make them with ditto calibrate --save-trajectories for this model and --steps`);
  }
  const fileWeights = weightsPath ? readWeightsFile(weightsPath, steps) : undefined;

  const backend = await createBackend(backendChoice, io.info, { batch: seedCount });
  const model = loadModel(card, backend, { heads });
  const started = performance.now();

  // Full compute on the calibration pairs: the reference images, and the trajectories.
  const bar = progress('full compute', seedCount * steps);
  const runs = await sampleCalibrationRuns({ model, count: seedCount, steps, cfgScale, batch: seedCount, onProgress: (d) => bar.update(d) });
  bar.stop();
  const pairs = Array.from({ length: seedCount }, (_, i) => calibrationPair(i, c.numClasses));
  const ref = reference(runs.samples, [seedCount, c.channels, c.height, c.width], card.dataRange);
  const traj: Trajectories = saved ?? makeTrajectories(runs.trajectories, runs.shape, 'calibration runs');
  const gram = gramMatrices(traj).total;
  const errors = errorCount(traj.batch, steps, size);
  const weights: Weights | undefined = method !== 'l2p' ? undefined
    : fileWeights ?? (saved || !card.l2pWeights ? fitWeights(gram, steps, errors, { method: 'adam' }).weights : readWeightsFile(card.l2pWeights, steps));
  const weightsFrom = method !== 'l2p' ? undefined : weightsPath ?? (saved ? `adam fit on ${trajPath}` : card.l2pWeights ?? `adam fit on the ${seedCount} calibration runs`);
  io.info(`full compute on ${seedCount} calibration runs: ${((performance.now() - started) / 1000).toFixed(1)} s${weightsFrom ? `; l2p weights: ${weightsFrom}` : ''}`);

  const proxyData = { gram, weights: finalSampleWeights(samplerFor(card, model.model, steps)), elements: traj.batch * size };
  const scheduleOf = (f: FullSteps) => explicitSchedule(f, steps);
  const predictorFor = (s: Schedule) => scheduledPredictor(method, s, { weights, gram });
  const log = new EvaluationLog(logPath, {
    search: 'ditto', model: card.path, method, full_steps: k, steps, cfg_scale: cfgScale, seeds: seedCount,
    trajectories: trajPath ?? null, weights: weights ? fingerprint(formatWeights(weights)) : null,
  });
  if (log.done.size > 0) io.info(`resuming: ${log.done.size} evaluations read back from ${logPath}`);
  const official = officialSchedule(method, k, steps);

  const evaluate = async (f: FullSteps): Promise<number> => {
    const done = log.done.get(f.join(','));
    if (done !== undefined) return done;
    const s = scheduleOf(f);
    const out = await generate({ model, classes: pairs.map((p) => p.cls), seeds: pairs.map((p) => p.seed), steps, cfgScale, schedule: s, predictor: predictorFor(s) });
    const score = meanPsnr(toImages(out.samples, out.shape, card.dataRange!), ref);
    log.add(f, score);
    return score;
  };
  const result = await searchSchedule({
    steps, fullSteps: k, official: official?.fullSteps, evaluations,
    proxy: (f) => { const s = scheduleOf(f); return finalSampleError(proxyData, s, predictorFor(s)); },
    evaluate,
    onProxyStage: (what) => io.info(`proxy: ${what}`),
    onEvaluation: (e, i, best) => io.info(`evaluation ${i + 1}/${evaluations}: ${e.score.toFixed(2)} dB (proxy ${e.proxy.toExponential(2)}) ${strip(scheduleOf(e.fullSteps))}; best ${best.score.toFixed(2)} dB`),
  });
  const officialScore = official ? result.evaluations[0]!.score : null;
  const seconds = (performance.now() - started) / 1000;
  writeScheduleFile(outPath, {
    full_steps: result.best.fullSteps, method, steps, score_db: result.best.score,
    model: flags.string('model') ?? 'mnist-dit', cfg_scale: cfgScale, calibration_seeds: [pairs[0]!.seed, pairs.at(-1)!.seed],
    official: official ? { schedule: official.label, full_steps: official.fullSteps, score_db: officialScore } : null,
    evaluations: result.evaluations.length, proxy_candidates: result.proxyCandidates, seconds,
    weights: scheduledWeights(method, scheduleOf(result.best.fullSteps), { weights, gram }),
  });
  const summary = {
    out: outPath, method, full_steps: result.best.fullSteps, score_db: result.best.score,
    official: official ? { schedule: official.label, full_steps: official.fullSteps, score_db: officialScore } : null,
    evaluations: result.evaluations.length, proxy_candidates: result.proxyCandidates, seconds,
  };
  if (flags.bool('json')) {
    io.print(formatJson(summary));
    return;
  }
  const line = (label: string, f: FullSteps, score: number | null) => `${label.padEnd(9)} ${strip(scheduleOf(f))}  ${score === null ? '' : `${score.toFixed(2)} dB`}`;
  io.print(`${method}, ${k} of ${steps} steps full, scored on ${seedCount} calibration runs (${result.evaluations.length} sampled, ${result.proxyCandidates} ranked by the proxy) in ${seconds.toFixed(0)} s:`);
  if (official) io.print(line('official', official.fullSteps, officialScore));
  io.print(line('searched', result.best.fullSteps, result.best.score));
  io.print(`full steps ${result.best.fullSteps.join(',')}; wrote ${outPath}`);
}
