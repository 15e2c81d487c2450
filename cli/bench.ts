// `ditto bench <suite>`: benchmarks, each against a peer or reference measured in the same run.

import { UserError } from '../core/errors.js';
import { runCacheBench } from '../bench/cache.js';
import { runCpuBench } from '../bench/cpu.js';
import { runForwardBench } from '../bench/forward.js';
import { runKernelBench } from '../bench/kernels.js';
import { runModelBench } from '../bench/models.js';
import { runProfileBench } from '../bench/profile.js';
import type { ClassModel } from '../models/class-model.js';
import { preset } from '../models/dit/config.js';
import { DiT } from '../models/dit/dit.js';
import { randomWeights } from '../models/dit/weights.js';
import { inspectModel, loadModel, resolveModelPath } from '../models/pretrained.js';
import { readTrajectories } from '../predictors/fit/trajectories.js';
import { CACHE_METHODS, type CacheMethod } from '../predictors/methods.js';
import { readScheduleFile } from '../predictors/search/schedule-file.js';
import { createBackend, parseBackend } from './backend.js';
import { formatCacheTable, formatCpuTable, formatKernelTable, formatModelTable, formatProfileTable } from './bench-tables.js';
import { parseFlags, type CommandIo, type Flags } from './flags.js';
import { formatJson } from './json.js';
import { cfgFromFlags, checkInputs, checkOutputs, given, MAX_IMAGES, stepsFromFlags } from './options.js';

export const benchUsage = `usage: ditto bench cpu [--json] [--runs N] [--no-torch]
       ditto bench kernels [--json] [--runs N] [--quick]
       ditto bench models [--json] [--runs 3] [--no-torch]
       ditto bench forward --model M|DiT-S/2|DiT-B/2|DiT-XL/2 [--batch 2] [--size 32] [--runs 5]
                           [--backend auto|cpu|webgpu] [--json]
       ditto bench profile --model M|DiT-S/2|... [--batch 2] [--size 32] [--runs 3] [--backend ...] [--json]
       ditto bench cache [--model M] [--seeds 8] [--intervals 5,7,10] [--methods ${CACHE_METHODS.join(',')}]
                         [--trajectories T.safetensors [--ablation 5,10,25,50]] [--weights W.json]
                         [--schedule S.json [--schedule S2.json ...]] [--steps S] [--cfg g] [--save-images DIR]
                         [--backend ...] [--json]
  cpu      CPU matmul at DiT-S shapes vs TensorFlow.js (tfjs-backend-cpu, tfjs-backend-wasm) at the
           same threads, and one DiT-S/2 forward vs ONNX Runtime (onnxruntime-node) and PyTorch on
           the same weights (tools/export_dit_onnx.py, when python3 with torch is installed) and our
           WebGPU backend; Benchmark.js medians with margins, --json rows with their ratio to ditto
  kernels  our WGSL matmul (DiT-S and DiT-XL linears) and fused attention vs our CPU backend,
           TensorFlow.js's WebGPU backend and gpu.js on the same adapter, and vs our unfused
           attention: GPU time from timestamp queries, median of N runs (10; --quick: 3, and only
           the DiT-S matmuls and the first attention shape) with the margin of error of their mean
           (95%, as Benchmark.js gives it), max error against the CPU result
  models   whole full-size models on each backend and in PyTorch, in the same run (random weights
           made at run time; minutes on a CPU): one DiT-XL/2 forward at 256x256 (batch 2), and the
           Stable Diffusion VAE decoding one 256x256 image (PyTorch runs the official latent-diffusion
           Decoder from the checkout LDM_REPO names)
  forward  one model forward (warm-up, then N timed runs, read-back included, loading excluded) on a
           checkpoint (a DiT, or FLUX with class prompts; bundled names work) or a DiT preset with
           seeded random weights at --size x --size latents (default 32); --json prints
           {"model", "backend", "batch", "median_s", "margin_pct", "runs_s"} (Benchmark.js's margin of error)
  profile  where that forward spends its time: every dispatch timed (WebGPU: GPU timestamps where the
           adapter has them, else each dispatch replayed alone; CPU: each op call), the median over
           --runs forwards, grouped by kernel: dispatches, ms and % of all dispatches' time
  cache    every forecasting method x interval against full compute on the same seeds: FLOPs and
           wall-clock speedups, PSNR/SSIM of the 8-bit images, relative L2 of the final samples.
           l2p uses --weights or the model's calibrated W (beside it); with --trajectories (from
           ditto calibrate --save-trajectories) l2p (official Adam) and l2p-direct are fitted from
           those runs, and --ablation refits l2p on the first n runs for each n; each --schedule
           (from ditto search) adds a row with its method on that schedule
The peers (TensorFlow.js, ONNX Runtime, gpu.js) are not installed with ditto: without them their rows
say how to install them (npm install @tensorflow/tfjs-core @tensorflow/tfjs-backend-cpu ...).`;

type Spec = Parameters<typeof parseFlags>[1];

const FORWARD_FLAGS = {
  json: { type: 'boolean' }, model: { type: 'string' }, batch: { type: 'string' }, size: { type: 'string' },
  runs: { type: 'string' }, backend: { type: 'string' },
} satisfies Spec;

/** Each suite's flags: one that belongs to another suite is refused rather than ignored. */
const SUITE_FLAGS = {
  cpu: { json: { type: 'boolean' }, runs: { type: 'string' }, 'no-torch': { type: 'boolean' } },
  kernels: { json: { type: 'boolean' }, runs: { type: 'string' }, quick: { type: 'boolean' } },
  models: { json: { type: 'boolean' }, runs: { type: 'string' }, 'no-torch': { type: 'boolean' } },
  forward: FORWARD_FLAGS,
  profile: FORWARD_FLAGS,
  cache: {
    json: { type: 'boolean' }, model: { type: 'string' }, seeds: { type: 'string' }, intervals: { type: 'string' },
    methods: { type: 'string' }, trajectories: { type: 'string' }, ablation: { type: 'string' }, weights: { type: 'string' },
    steps: { type: 'string' }, cfg: { type: 'string' }, 'save-images': { type: 'string' }, backend: { type: 'string' },
    heads: { type: 'string' }, schedule: { type: 'string', multiple: true },
  },
} satisfies Record<string, Spec>;

/** Timed runs per cell: more than this is a typo, not a benchmark. */
const MAX_RUNS = 1000;

function list(flags: Flags, name: string, fallback: string): string[] {
  return (flags.string(name) ?? fallback).split(',').map((s) => s.trim()).filter(Boolean);
}

function integers(flags: Flags, name: string, fallback: string): number[] {
  return list(flags, name, fallback).map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n <= 0) throw new UserError(`--${name}: "${s}" is not a positive integer`);
    return n;
  });
}

export async function benchCommand(argv: string[], io: CommandIo): Promise<void> {
  const [suite, ...rest] = argv;
  if (suite === undefined || !Object.hasOwn(SUITE_FLAGS, suite)) {
    const what = suite === undefined || suite.startsWith('-') ? 'name a benchmark suite first' : `unknown benchmark suite "${suite}"`;
    throw new UserError(`${what}: ditto bench cpu, kernels, models, forward, profile or cache (ditto bench --help lists their flags)`);
  }
  const flags = parseFlags(rest, SUITE_FLAGS[suite as keyof typeof SUITE_FLAGS], benchUsage);
  const print = <T>(result: T, table: (r: T) => string) => io.print(flags.bool('json') ? formatJson(result) : table(result));
  if (suite === 'cpu') {
    const result = await runCpuBench({ runs: flags.integer('runs', { max: MAX_RUNS }) ?? 10, torch: !flags.bool('no-torch'), onProgress: io.info });
    print(result, formatCpuTable);
    return;
  }
  if (suite === 'models') {
    print(await runModelBench({ runs: flags.integer('runs', { max: MAX_RUNS }) ?? 3, torch: !flags.bool('no-torch'), onProgress: io.info }), formatModelTable);
    return;
  }
  if (suite === 'kernels') {
    const quick = flags.bool('quick');
    print(await runKernelBench({ runs: flags.integer('runs', { max: MAX_RUNS }) ?? (quick ? 3 : 10), quick, onProgress: io.info }), formatKernelTable);
    return;
  }
  if (suite === 'forward') {
    await benchForward(flags, io);
    return;
  }
  if (suite === 'profile') {
    const runs = flags.integer('runs', { min: 1, max: MAX_RUNS }) ?? 3;
    const { model, name, batch } = await forwardModel('profile', flags, io);
    print(await runProfileBench({ model, name, batch, runs }), formatProfileTable);
    return;
  }
  const methods = list(flags, 'methods', 'fora,taylorseer,foca,l2p').map((m) => {
    if (!(CACHE_METHODS as readonly string[]).includes(m)) throw new UserError(`--methods: unknown method "${m}": use ${CACHE_METHODS.join(', ')}`);
    return m as CacheMethod;
  });
  // Every flag and file is checked before a backend is opened (cli/options.ts's rules).
  const backendChoice = parseBackend(flags.string('backend'));
  const seeds = flags.integer('seeds', { max: MAX_IMAGES }) ?? 8;
  const modelPath = resolveModelPath(flags.string('model')), trajPath = flags.string('trajectories'), saveImages = flags.string('save-images');
  const schedulePaths = flags.all('schedule');
  const inputs = [...given([['--model', modelPath], ['--trajectories', trajPath], ['--weights', flags.string('weights')]]), ...schedulePaths.map((path) => ({ flag: '--schedule', path }))];
  checkInputs(inputs);
  checkOutputs([], inputs, given([['--save-images', saveImages]]));
  const ablation = flags.string('ablation') === undefined ? undefined : integers(flags, 'ablation', '');
  if (ablation && !trajPath) throw new UserError('--ablation refits l2p on subsets of calibration runs: pass --trajectories T.safetensors');
  const intervals = integers(flags, 'intervals', '5,7,10');
  const heads = flags.integer('heads');
  const { card } = inspectModel(modelPath, { heads });
  const steps = stepsFromFlags(flags, card);
  const cfgScale = cfgFromFlags(flags, card.cfgScale);
  const schedules = schedulePaths.map((path) => ({ path, loaded: readScheduleFile(path, steps) }));

  const backend = await createBackend(backendChoice, io.info, { batch: seeds });
  const result = await runCacheBench({
    model: loadModel(card, backend, { heads }),
    seeds,
    intervals,
    methods,
    steps,
    cfgScale,
    trajectories: trajPath ? readTrajectories(trajPath) : undefined,
    weights: flags.string('weights'),
    ablation,
    schedules,
    saveImages,
    onProgress: (line) => io.info(line),
  });
  print(result, formatCacheTable);
}

/** The DiT presets `bench forward` times with seeded random weights. */
const FORWARD_PRESETS = ['DiT-S/2', 'DiT-B/2', 'DiT-XL/2'];

/** Latent sides a preset may take: any even side up to 512 (a 4096x4096 image's latents). */
const MAX_SIZE = 512;

/** The model `bench forward` and `bench profile` run: --model (a checkpoint or a preset), --size, --batch, --backend. */
async function forwardModel(suite: string, flags: Flags, io: CommandIo): Promise<{ model: ClassModel; name: string; batch: number }> {
  const backendChoice = parseBackend(flags.string('backend'));
  const modelArg = flags.string('model');
  if (modelArg === undefined) throw new UserError(`bench ${suite} needs --model: a checkpoint, a bundled model's name, or one of ${FORWARD_PRESETS.join(', ')}`);
  const batch = flags.integer('batch', { min: 1, max: MAX_IMAGES }) ?? 2;
  const size = flags.integer('size', { min: 2, max: MAX_SIZE });
  const isPreset = FORWARD_PRESETS.includes(modelArg);
  if (size !== undefined && (!isPreset || size % 2 !== 0)) {
    throw new UserError(isPreset ? `--size ${size}: a patch-2 DiT needs an even latent side` : '--size sets a preset\'s latent side; a checkpoint has its own: drop --size');
  }
  const path = isPreset ? undefined : resolveModelPath(modelArg);
  if (path !== undefined) checkInputs([{ flag: '--model', path }]);
  const card = path === undefined ? null : inspectModel(path).card;
  const backend = await createBackend(backendChoice, io.info, { batch });
  const presetModel = () => {
    const config = preset(modelArg, { inputSize: size ?? 32 });
    return new DiT(config, randomWeights(config, backend));
  };
  return { model: card ? loadModel(card, backend).model : presetModel(), name: card?.path ?? modelArg, batch };
}

async function benchForward(flags: Flags, io: CommandIo): Promise<void> {
  const runs = flags.integer('runs', { min: 1, max: MAX_RUNS }) ?? 5;
  const { model, name, batch } = await forwardModel('forward', flags, io);
  const result = await runForwardBench({ model, name, batch, runs });
  if (flags.bool('json')) io.print(formatJson(result));
  else {
    const sorted = [...result.runs_s].sort((a, b) => a - b);
    io.print(`${result.model}, batch ${batch}, ${result.backend}: median ${result.median_s.toFixed(3)} s ±${result.margin_pct.toFixed(1)}% over ${runs} runs (fastest ${sorted[0].toFixed(3)} s, slowest ${sorted[sorted.length - 1].toFixed(3)} s)`);
  }
}
