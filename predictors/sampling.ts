// The cached sampling loop: a sampler that calls the model only on the schedule's full steps and
// lets a predictor forecast the model's output everywhere else.
//
//   for each step i:
//     out_i = full(i) ? model(x, t_i)                         (the only expensive line)
//                     : sum_j w_j * out_j                      (weights from predictor.forecast(i))
//     history[i] = out_i                                       (forecasts join the history too)
//     x = xCoef_i * x + outCoef_i * out_i                      (DDIM and Euler-flow are both linear)
//
// On a skipped step no part of the model runs. Both sums are one op, op.linearCombination (one pass
// over the terms, on any backend), and the loop frees what it no longer needs: history entries no
// later forecast can use (predictor.live()) are disposed as soon as they fall out.
//
// The loop knows nothing about guidance or labels: the caller's model function does that (see
// classModelFn, which wraps a model with or without classifier-free guidance). It only requires the
// function to return what the sampler steps with, shaped like x.
//
// On a GPU backend the loop only records: it awaits backend.throttle() every step, so that it never
// runs more than a bounded amount of work ahead of the device, and reads back nothing but a small
// vector of per-step flags until the end.
// A run that goes NaN or infinite (a huge guidance scale, a broken checkpoint) stops with an error
// naming the first such step, found on the device too (NonFiniteWatch).

import type { Backend } from '../core/backend.js';
import { UserError } from '../core/errors.js';
import * as op from '../core/ops.js';
import { numel, sameShape, shapeString } from '../core/shape.js';
import { tidy, type HostArray, type Tensor } from '../core/tensor.js';
import type { ClassModel } from '../models/class-model.js';
import type { Sampler } from '../models/samplers/sampler.js';
import type { Predictor, Term } from './predictor.js';
import type { Schedule } from './schedule.js';

/** The model as the loop sees it: x at per-row times t (and opaque labels y) -> the sampler's input (eps or velocity), shaped like x. */
export type ModelFn = (x: Tensor, t: readonly number[], y: readonly number[]) => Tensor;

export interface StepInfo {
  step: number;
  steps: number;
  /** whether the model ran at this step */
  full: boolean;
  /** history terms of the forecast (0 on full steps) */
  terms: number;
  /** wall time of the step; with `timing` it includes waiting for the backend */
  seconds: number;
}

export interface CachedSamplingOptions {
  model: ModelFn;
  sampler: Sampler;
  schedule: Schedule;
  predictor: Predictor;
  /** the starting noise [N, ...]; not disposed */
  x: Tensor;
  /** passed to the model unchanged (class labels; [y; null] with guidance) */
  labels?: readonly number[];
  /** analytic FLOPs of one model call on this batch (2 * macsPerSample * N for a DiT) */
  flopsPerForward?: number;
  /** called after every step (progress bars, logs) */
  onStep?: (info: StepInfo) => void;
  /** wait for the backend at the end of each step (a readback of x) so per-step times are true device times */
  timing?: boolean;
  /** keep every step's output and return it (tests and analysis; costs memory) */
  keepOutputs?: boolean;
}

export interface SamplingStats {
  steps: number;
  /** model calls made */
  forwards: number;
  /** model calls replaced by a forecast */
  skipped: number;
  flops: {
    /** spent in the model */
    model: number;
    /** the model calls not made */
    saved: number;
    /** spent forming forecasts: 2 * numel per history term (a multiply and an add) */
    predictor: number;
  };
  /** per-step wall times (seconds) */
  stepSeconds: number[];
  seconds: number;
}

export interface CachedSamplingResult {
  /** the final sample; the caller owns it */
  x: Tensor;
  stats: SamplingStats;
  /** every step's output, when keepOutputs was set; the caller owns them */
  outputs?: Tensor[];
}

/** Bit 0 of a step's non-finite flag: its output (model or forecast); bit 1: x after the step. */
const OUTPUT_BIT = 1;

/** Steps between two reads of the non-finite flags (a read still under way is not doubled). */
const CHECK_EVERY = 8;

/**
 * Watches a run for NaN and infinities without making the loop wait for the device: every step flags
 * its output and the new x into flags[step] on the device (op.flagNonFinite); every CHECK_EVERY steps a
 * read of the flags starts, unawaited, and once it has landed (a GPU backend's reads land while the
 * loop waits in throttle()) `check` stops the run at the first flagged step. The final read waits for
 * every step, so no flag escapes.
 */
class NonFiniteWatch {
  private readonly flags: Tensor;
  private reading = false;
  private landed: HostArray | null = null;
  private failure: unknown = null;

  constructor(
    backend: Backend,
    private readonly steps: number,
    private readonly isFull: (step: number) => boolean,
  ) {
    this.flags = backend.upload(new Int32Array(steps), [steps], 'i32');
  }

  mark(step: number, out: Tensor, x: Tensor): void {
    op.flagNonFinite([out, x], this.flags, step);
  }

  /** Starts reading the flags back, unless a read is under way. */
  peek(): void {
    if (this.reading) return;
    this.reading = true;
    this.flags.read().then(
      (flags) => { this.landed = flags; this.reading = false; },
      (e: unknown) => { this.failure = e; this.reading = false; },
    );
  }

  /** Throws what the last landed read found: its failure, or the first flagged step. */
  check(): void {
    if (this.failure) throw this.failure;
    if (this.landed) this.raise(this.landed);
  }

  /** Reads the flags once every step has run (which waits for the backend) and checks them. */
  async finish(): Promise<void> {
    this.raise(await this.flags.read());
  }

  dispose(): void {
    this.flags.dispose();
  }

  private raise(flags: HostArray): void {
    const step = flags.findIndex((f) => f !== 0);
    if (step < 0) return;
    const what = flags[step] & OUTPUT_BIT ? `the ${this.isFull(step) ? 'model output' : 'forecast'} holds NaN/Inf` : 'x overflowed to NaN/Inf';
    throw new UserError(`sampling went non-finite at step ${step + 1} of ${this.steps} (${what}): check --cfg and the checkpoint`);
  }
}

/** sum_j w_j * history[j] on the backend, in one pass. */
function forecastTensor(terms: readonly Term[], history: ReadonlyMap<number, Tensor>): Tensor {
  if (terms.length === 0) throw new Error('cached sampling: the predictor returned no terms');
  const xs = terms.map(({ step }) => {
    const h = history.get(step);
    if (!h) throw new Error(`cached sampling: the forecast needs step ${step}, which is no longer in the history (predictor.live() must list it)`);
    return h;
  });
  return op.linearCombination(xs, terms.map((t) => t.weight));
}

export async function sampleCached(opts: CachedSamplingOptions): Promise<CachedSamplingResult> {
  const { model, sampler, schedule, predictor, labels = [], flopsPerForward = 0, onStep, timing = false, keepOutputs = false } = opts;
  if (schedule.steps !== sampler.steps) {
    throw new Error(`cached sampling: the schedule has ${schedule.steps} steps but the sampler ${sampler.steps}`);
  }
  const started = performance.now();
  const n = opts.x.shape[0]!;
  const elements = numel(opts.x.shape);
  const history = new Map<number, Tensor>();
  const kept: Tensor[] = [];
  const stats: SamplingStats = { steps: schedule.steps, forwards: 0, skipped: 0, flops: { model: 0, saved: 0, predictor: 0 }, stepSeconds: [], seconds: 0 };
  const backend = opts.x.backend;
  const watch = new NonFiniteWatch(backend, schedule.steps, (step) => schedule.isFull(step));

  let x = opts.x;
  try {
    for (let i = 0; i < schedule.steps; i++) {
      const stepStart = performance.now();
      const { modelTime, xCoef, outCoef } = sampler.step(i);
      const full = schedule.isFull(i);
      let out: Tensor;
      let termCount = 0;
      if (full) {
        out = model(x, new Array<number>(n).fill(modelTime), labels);
        if (!sameShape(out.shape, x.shape)) {
          out.dispose();
          throw new Error(`cached sampling: the model function returned ${shapeString(out.shape)} for x ${shapeString(x.shape)}; it must return what the sampler steps with (e.g. slice eps off a learn_sigma output)`);
        }
        stats.forwards++;
        stats.flops.model += flopsPerForward;
      } else {
        const terms = predictor.forecast(i);
        out = forecastTensor(terms, history);
        termCount = terms.length;
        stats.skipped++;
        stats.flops.saved += flopsPerForward;
        stats.flops.predictor += 2 * elements * terms.length;
      }
      history.set(i, out);
      if (keepOutputs) kept.push(out);
      predictor.observe(i, full);

      const next = op.linearCombination([x, out], [xCoef, outCoef]);
      if (x !== opts.x) x.dispose();
      x = next;
      watch.mark(i, out, x);

      // Free the outputs no later forecast can use.
      const live = new Set(predictor.live());
      for (const [step, t] of history) {
        if (!live.has(step)) {
          history.delete(step);
          if (!keepOutputs) t.dispose();
        }
      }

      // The peek's readback is one more submitted batch, which the wait below counts.
      if (i % CHECK_EVERY === CHECK_EVERY - 1) watch.peek();
      if (timing) await backend.sync();
      else await backend.throttle();
      watch.check();
      const seconds = (performance.now() - stepStart) / 1000;
      stats.stepSeconds.push(seconds);
      onStep?.({ step: i, steps: schedule.steps, full, terms: termCount, seconds });
    }
    if (!keepOutputs) for (const t of history.values()) t.dispose();
    history.clear();
    // A GPU backend only records the steps: this read waits until its work is done, which the time counts.
    await watch.finish();
  } catch (e) {
    if (x !== opts.x) x.dispose();
    if (!keepOutputs) for (const t of history.values()) t.dispose();
    for (const t of kept) t.dispose();
    throw e;
  } finally {
    watch.dispose();
  }
  stats.seconds = (performance.now() - started) / 1000;
  return keepOutputs ? { x, stats, outputs: kept } : { x, stats };
}

/**
 * A class-conditional model as a ModelFn (see ClassModel.predict). With `cfgScale`, x must be [x; x]
 * and the labels [y; null] (the official sample.py layout): the guided prediction comes back for both
 * halves, and the sampler steps both (they stay equal).
 */
export function classModelFn(model: ClassModel, cfgScale?: number): ModelFn {
  return (x, t, y) => model.predict(x, t, y, cfgScale);
}

/**
 * Analytic FLOPs of one model call on `rows` batch rows (2 per multiply-accumulate). With guidance
 * the model runs on the whole [x; x] batch, so pass its full row count.
 */
export function flopsPerForward(model: ClassModel, rows: number): number {
  return 2 * model.info.macsPerSample * rows;
}
