// The cached sampling loop on every backend, against a host reference loop that calls an analytic
// "model" on the full steps and the official-semantics caches (official.ts) on the others.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as op from '../../core/ops.js';
import { tidy, type Tensor } from '../../core/tensor.js';
import { MAX_IN_FLIGHT, WebGpuBackend } from '../../core/webgpu/backend.js';
import { DiT } from '../../models/dit/dit.js';
import { loadDiT } from '../../models/dit/weights.js';
import { ddim } from '../../models/samplers/ddim.js';
import { eulerFlow } from '../../models/samplers/flow.js';
import type { Sampler } from '../../models/samplers/sampler.js';
import { FocaPredictor } from '../../predictors/foca.js';
import { ForaPredictor } from '../../predictors/fora.js';
import { L2PPredictor } from '../../predictors/l2p.js';
import type { Predictor, Term } from '../../predictors/predictor.js';
import { classModelFn, flopsPerForward, sampleCached, type ModelFn } from '../../predictors/sampling.js';
import { explicitSchedule, fullSchedule, type Schedule } from '../../predictors/schedule.js';
import { TaylorSeerPredictor } from '../../predictors/taylorseer.js';
import { fixture, testBackends } from '../backends.js';
import { maxRelErr } from '../../core/accuracy.js';
import { randn } from '../reference.js';
import { OfficialFora, OfficialFoca, OfficialL2P, OfficialTaylorSeer, randomLowerTriangular, type OfficialCache } from './official.js';

const STEPS = 20;
const SCHEDULE = explicitSchedule([0, 1, 2, 4, 7, 8, 13, 17], STEPS);
const SHAPE = [3, 2, 4, 4]; // N, C, H, W
const PER_ROW = 2 * 4 * 4;
const C = randn(PER_ROW, 5);
const W = randomLowerTriangular(STEPS, 21);

/** The analytic model: out = a(t) x + b(t, y) c, row by row (y: the row's label). */
const a = (t: number) => 0.2 + 0.3 * Math.sin(t / 700);
const b = (t: number, y: number) => Math.cos(t / 500) * (1 + 0.1 * y);

function modelHost(x: Float64Array, t: readonly number[], y: readonly number[]): Float64Array {
  return x.map((v, i) => {
    const row = Math.floor(i / PER_ROW);
    return a(t[row]!) * v + b(t[row]!, y[row]!) * C[i % PER_ROW]!;
  });
}

function modelTensor(calls: number[][]): ModelFn {
  return (x, t, y) => {
    calls.push([...t]);
    const n = x.shape[0]!;
    const bc = new Float32Array(n * PER_ROW);
    for (let i = 0; i < bc.length; i++) bc[i] = b(t[Math.floor(i / PER_ROW)]!, y[Math.floor(i / PER_ROW)]!) * C[i % PER_ROW]!;
    return tidy(() => op.add(op.mul(x, op.scalar(x, a(t[0]!))), x.backend.upload(bc, x.shape, 'f32')));
  };
}

function referenceLoop(x0: Float32Array, sampler: Sampler, schedule: Schedule, cache: OfficialCache, labels: number[], model = modelHost): Float64Array {
  let x = Float64Array.from(x0);
  const n = labels.length;
  for (let i = 0; i < schedule.steps; i++) {
    const { modelTime, xCoef, outCoef } = sampler.step(i);
    let out: Float64Array;
    if (schedule.isFull(i)) {
      out = model(x, new Array(n).fill(modelTime), labels);
      cache.full(i, out);
    } else {
      out = cache.cached(i);
    }
    x = x.map((v, k) => xCoef * v + outCoef * out[k]!);
  }
  return x;
}

const METHODS: [string, () => Predictor, () => OfficialCache][] = [
  ['fora', () => new ForaPredictor(), () => new OfficialFora()],
  ['taylorseer m=2', () => new TaylorSeerPredictor(2), () => new OfficialTaylorSeer(2)],
  ['taylorseer m=3', () => new TaylorSeerPredictor(3), () => new OfficialTaylorSeer(3)],
  ['foca', () => new FocaPredictor(), () => new OfficialFoca()],
  ['l2p', () => new L2PPredictor(W), () => new OfficialL2P(W)],
];

const SAMPLERS: [string, Sampler][] = [['ddim', ddim(STEPS)], ['euler-flow', eulerFlow(STEPS, { shiftTokens: 16 })]];

const isDisposed = (t: Tensor) => (t as unknown as { disposed: boolean }).disposed;

for (const backend of await testBackends()) {
  const upload = (data: Float32Array, shape = SHAPE) => backend.upload(data, shape, 'f32');

  for (const [samplerName, sampler] of SAMPLERS) {
    for (const [name, make, official] of METHODS) {
      test(`${backend.name}: ${samplerName} + ${name} equals the reference loop; the model runs only on full steps`, async () => {
        const x0 = randn(3 * PER_ROW, 9);
        const labels = [0, 3, 7];
        const calls: number[][] = [];
        const { x, stats } = await sampleCached({
          model: modelTensor(calls), sampler, schedule: SCHEDULE, predictor: make(), x: upload(x0), labels, flopsPerForward: 1000,
        });
        const want = referenceLoop(x0, sampler, SCHEDULE, official(), labels);
        const err = maxRelErr(await x.read(), want);
        assert.ok(err < 2e-5, `relative error ${err}`);
        assert.is(calls.length, SCHEDULE.fullSteps.length);
        assert.equal(calls.map((t) => t[0]), SCHEDULE.fullSteps.map((s) => sampler.step(s).modelTime));
        assert.ok(calls.every((t) => t.length === 3), 'one time per batch row');
        assert.is(stats.forwards, 8);
        assert.is(stats.skipped, 12);
        assert.is(stats.flops.model, 8000);
        assert.is(stats.flops.saved, 12000);
        assert.ok(stats.flops.predictor > 0 && stats.flops.predictor % (2 * 3 * PER_ROW) === 0);
        assert.is(stats.stepSeconds.length, STEPS);
        x.dispose();
      });
    }
  }

  test(`${backend.name}: classifier-free guidance lives in the model function; the loop steps [x; x]`, async () => {
    const scale = 3, n = 2, labels = [1, 4], nullClass = 10;
    const calls: number[][] = [];
    const plain = modelTensor(calls);
    // what DiT's forward_with_cfg does: the model on [x; x] with labels [y; null], then mix the halves
    const model: ModelFn = (x, t, y) =>
      tidy(() => {
        const [cond, uncond] = op.chunk(plain(x, t, y), 2, 0);
        const g = op.add(uncond, op.mul(op.scalar(x, scale), op.sub(cond, uncond)));
        return op.concat([g, g], 0);
      });
    const x0 = randn(n * PER_ROW, 3);
    const x2 = upload(Float32Array.from([...x0, ...x0]), [2 * n, 2, 4, 4]);
    const { x } = await sampleCached({
      model, sampler: SAMPLERS[0]![1], schedule: SCHEDULE, predictor: new TaylorSeerPredictor(2), x: x2, labels: [...labels, nullClass, nullClass],
    });
    const hostGuided = (xh: Float64Array, t: readonly number[]) => {
      const half = xh.subarray(0, n * PER_ROW);
      const cond = modelHost(Float64Array.from(half), t.slice(0, n), labels);
      const uncond = modelHost(Float64Array.from(half), t.slice(0, n), [nullClass, nullClass]);
      const g = uncond.map((u, i) => u + scale * (cond[i]! - u));
      return Float64Array.from([...g, ...g]);
    };
    const want = referenceLoop(Float32Array.from([...x0, ...x0]), SAMPLERS[0]![1], SCHEDULE, new OfficialTaylorSeer(2), [0, 0, 0, 0], (xh, t) => hostGuided(xh, t));
    const got = await x.read();
    assert.ok(maxRelErr(got, want) < 2e-5);
    assert.ok(maxRelErr(got.subarray(0, n * PER_ROW), got.subarray(n * PER_ROW)) === 0, 'both halves stay equal');
    assert.is(calls.length, SCHEDULE.fullSteps.length);
  });

  test(`${backend.name}: outputs no forecast can use are freed as the loop goes`, async () => {
    const outputs: Tensor[] = [];
    const calls: number[][] = [];
    const inner = modelTensor(calls);
    const heldAtStep: number[] = [];
    const { x } = await sampleCached({
      model: (x, t, y) => {
        const o = inner(x, t, y);
        outputs.push(o);
        return o;
      },
      sampler: SAMPLERS[1]![1], schedule: fullSchedule(STEPS), predictor: new TaylorSeerPredictor(2), x: upload(randn(3 * PER_ROW, 1)), labels: [0, 0, 0],
      onStep: () => heldAtStep.push(outputs.filter((t) => !isDisposed(t)).length),
    });
    assert.ok(heldAtStep.every((h) => h <= 3), `TaylorSeer m=2 holds at most 3 outputs: ${heldAtStep}`);
    assert.ok(outputs.every(isDisposed), 'all freed at the end');
    x.dispose();
  });

  test(`${backend.name}: keepOutputs returns every step's output; timing and onStep report each step`, async () => {
    const x0 = randn(3 * PER_ROW, 2);
    const steps: [number, boolean, number][] = [];
    const { x, outputs, stats } = await sampleCached({
      model: modelTensor([]), sampler: SAMPLERS[0]![1], schedule: SCHEDULE, predictor: new FocaPredictor(), x: upload(x0), labels: [0, 1, 2],
      keepOutputs: true, timing: true, onStep: (s) => steps.push([s.step, s.full, s.terms]),
    });
    assert.is(outputs!.length, STEPS);
    assert.equal(steps.map(([s]) => s), [...Array(STEPS).keys()]);
    assert.ok(steps.every(([s, full, terms]) => full === SCHEDULE.isFull(s) && (full ? terms === 0 : terms >= 1)));
    assert.ok(stats.seconds > 0);
    for (const o of outputs!) assert.not.ok(isDisposed(o));
    x.dispose();
  });

  test(`${backend.name}: a model that returns the wrong shape, or a schedule of another length, is a clear error`, async () => {
    const bad: ModelFn = (x) => op.concat([x, x], 1);
    await assertRejects(() => sampleCached({ model: bad, sampler: SAMPLERS[0]![1], schedule: SCHEDULE, predictor: new ForaPredictor(), x: upload(randn(3 * PER_ROW, 1)) }), /must return what the sampler steps with/);
    await assertRejects(() => sampleCached({ model: modelTensor([]), sampler: ddim(10), schedule: SCHEDULE, predictor: new ForaPredictor(), x: upload(randn(3 * PER_ROW, 1)) }), /schedule has 20 steps but the sampler 10/);
  });

  test(`${backend.name}: a model output that goes NaN stops the run at that step, long before the end`, async () => {
    let calls = 0;
    const inner = modelTensor([]);
    const model: ModelFn = (x, t, y) => tidy(() => {
      const out = inner(x, t, y);
      return ++calls === 5 ? op.mul(out, op.scalar(x, NaN)) : out;
    });
    const steps = 400;
    await assertRejects(
      () => sampleCached({ model, sampler: eulerFlow(steps), schedule: fullSchedule(steps), predictor: new ForaPredictor(), x: upload(randn(3 * PER_ROW, 1)), labels: [0, 1, 2] }),
      /^sampling went non-finite at step 5 of 400 \(the model output holds NaN\/Inf\): check --cfg and the checkpoint$/,
    );
    assert.ok(calls < steps / 2, `stopped after ${calls} of ${steps} steps`);
  });

  test(`${backend.name}: a forecast that overflows, and an x that overflows, are named as such`, async () => {
    // The predictor forecasts step 2 as 3e38 times step 1's output: +-Inf in f32 wherever |out| > 1.14.
    const huge: Predictor = {
      name: 'huge', observe() {}, live: () => [0, 1],
      forecast: (): Term[] => [{ step: 1, weight: 3e38 }],
    };
    const run = (sampler: Sampler, predictor: Predictor, schedule: Schedule) =>
      sampleCached({ model: modelTensor([]), sampler, schedule, predictor, x: upload(randn(3 * PER_ROW, 1)), labels: [0, 1, 2] });
    await assertRejects(() => run(eulerFlow(6), huge, explicitSchedule([0, 1, 3], 6)), /non-finite at step 3 of 6 \(the forecast holds NaN\/Inf\)/);
    // A sampler whose step 4 scales x by 3e38: the output is finite, x is not.
    const base = eulerFlow(6);
    const blowUp: Sampler = { ...base, step: (i) => (i === 3 ? { ...base.step(i), xCoef: 3e38 } : base.step(i)) };
    await assertRejects(() => run(blowUp, new ForaPredictor(), fullSchedule(6)), /non-finite at step 4 of 6 \(x overflowed to NaN\/Inf\)/);
  });

  if (backend instanceof WebGpuBackend) {
    test(`${backend.name}: a long run records no further ahead of the GPU than MAX_IN_FLIGHT batches`, async () => {
      const gpu = backend;
      const steps = 2000;
      const waits = gpu.stats().throttleWaits;
      let most = 0;
      const x0 = randn(3 * PER_ROW, 8);
      const { x } = await sampleCached({
        model: modelTensor([]), sampler: eulerFlow(steps), schedule: fullSchedule(steps), predictor: new ForaPredictor(), x: upload(x0), labels: [0, 1, 2],
        onStep: () => { most = Math.max(most, gpu.stats().inFlight); },
      });
      assert.ok(most <= MAX_IN_FLIGHT, `${most} batches in flight`);
      // It would have run further ahead: every step submits, and only throttle() waited for the GPU.
      assert.ok(gpu.stats().throttleWaits > waits);
      assert.ok((await x.read()).every(Number.isFinite));
      x.dispose();
    });
  }

  test(`${backend.name}: a real DiT with guidance: all-full equals the plain loop; FORA skips forwards`, async () => {
    const { config, weights } = loadDiT(fixture('dit-d2-h96-p2.weights.safetensors'), backend);
    const dit = new DiT(config, weights);
    const sampler = ddim(6);
    const x0 = randn(4 * 8 * 8, 4);
    const x2 = () => backend.upload(Float32Array.from([...x0, ...x0]), [2, 4, 8, 8], 'f32');
    const labels = [3, config.numClasses];
    const model = classModelFn(dit, 4);
    const full = await sampleCached({ model, sampler, schedule: fullSchedule(6), predictor: new ForaPredictor(), x: x2(), labels });

    // the plain loop, by hand
    let x = x2();
    for (let i = 0; i < 6; i++) {
      const { modelTime, xCoef, outCoef } = sampler.step(i);
      const eps = op.slice(dit.forwardWithCfg(x, [modelTime, modelTime], labels, 4), 1, 0, 4);
      x = op.add(op.mul(x, op.scalar(x, xCoef)), op.mul(eps, op.scalar(x, outCoef)));
    }
    assert.equal(Array.from(await full.x.read()), Array.from(await x.read()));

    const flops = flopsPerForward(dit, 2);
    const cached = await sampleCached({ model, sampler, schedule: explicitSchedule([0, 2, 4], 6), predictor: new ForaPredictor(), x: x2(), labels, flopsPerForward: flops });
    assert.is(cached.stats.forwards, 3);
    assert.is(cached.stats.flops.model, 3 * flops);
    assert.is(cached.stats.flops.saved, 3 * flops);
    assert.ok(flops > 1e6);
    const got = await cached.x.read();
    assert.ok(got.every(Number.isFinite));
    assert.ok(maxRelErr(got, await x.read()) < 0.5, 'close to the full-compute sample');
  });
}

async function assertRejects(fn: () => Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await fn();
  } catch (e) {
    assert.match((e as Error).message, pattern);
    return;
  }
  assert.unreachable('expected a rejection');
}

test.run();
