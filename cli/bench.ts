// `ditto bench <suite>`: benchmarks, each against a peer or reference measured in the same run.

import { UserError } from '../core/errors.js';
import { CACHE_METHODS, formatCacheTable, runCacheBench, type CacheMethod } from '../bench/cache.js';
import { runCpuBench } from '../bench/cpu.js';
import { formatKernelTable, runKernelBench } from '../bench/kernels.js';
import { openModel } from '../models/pretrained.js';
import { readTrajectories } from '../predictors/fit/trajectories.js';
import { createBackend, parseBackend } from './backend.js';
import { parseFlags, type CommandIo, type Flags } from './flags.js';

export const benchUsage = `usage: ditto bench cpu [--json] [--runs N] [--no-torch]
       ditto bench kernels [--json] [--runs N] [--quick]
       ditto bench cache [--model M] [--seeds 8] [--intervals 5,7,10] [--methods ${CACHE_METHODS.join(',')}]
                         [--trajectories T.safetensors [--ablation 5,10,25,50]] [--weights W.json]
                         [--steps S] [--cfg g] [--save-images DIR] [--backend ...] [--json]
  cpu      CPU matmul at DiT-S shapes vs TensorFlow.js (tfjs-backend-cpu), and one DiT-S/2 forward
           vs PyTorch (tools/time_dit.py, when python3 with torch is installed)
  kernels  our WGSL matmul (DiT-S and DiT-XL linears) and fused attention vs our CPU backend,
           TensorFlow.js's WebGPU backend and gpu.js on the same adapter, and vs our unfused
           attention: GPU time from timestamp queries, median of N runs (10; --quick: 3, and only
           the DiT-S matmuls and the first attention shape), max error against the CPU result
  cache    every forecasting method x interval against full compute on the same seeds: FLOPs and
           wall-clock speedups, PSNR/SSIM of the 8-bit images, relative L2 of the final samples.
           l2p uses --weights or the model's calibrated W (beside it); with --trajectories (from
           ditto calibrate --save-trajectories) l2p (official Adam) and l2p-direct are fitted from
           those runs, and --ablation refits l2p on the first n runs for each n`;

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
  const flags = parseFlags(argv, {
    json: { type: 'boolean' }, runs: { type: 'string' }, 'no-torch': { type: 'boolean' }, quick: { type: 'boolean' },
    model: { type: 'string' }, seeds: { type: 'string' }, intervals: { type: 'string' }, methods: { type: 'string' },
    trajectories: { type: 'string' }, ablation: { type: 'string' }, weights: { type: 'string' }, steps: { type: 'string' },
    cfg: { type: 'string' }, 'save-images': { type: 'string' }, backend: { type: 'string' }, heads: { type: 'string' },
  }, benchUsage);
  const suite = flags.positionals[0];
  if (suite === 'cpu') {
    await runCpuBench({ json: flags.bool('json'), runs: flags.integer('runs') ?? 10, torch: !flags.bool('no-torch') }, io);
    return;
  }
  if (suite === 'kernels') {
    const quick = flags.bool('quick');
    const result = await runKernelBench({ runs: flags.integer('runs') ?? (quick ? 3 : 10), quick, onProgress: io.info });
    io.print(flags.bool('json') ? JSON.stringify(result, null, 2) : formatKernelTable(result));
    return;
  }
  if (suite !== 'cache') throw new UserError(`unknown benchmark suite "${suite ?? ''}": use cpu, kernels or cache\n${benchUsage}`);
  const methods = list(flags, 'methods', 'fora,taylorseer,foca,l2p').map((m) => {
    if (!(CACHE_METHODS as readonly string[]).includes(m)) throw new UserError(`--methods: unknown method "${m}": use ${CACHE_METHODS.join(', ')}`);
    return m as CacheMethod;
  });
  const seeds = flags.integer('seeds') ?? 8;
  const backend = await createBackend(parseBackend(flags.string('backend')), io.info, { batch: seeds });
  const model = openModel(flags.string('model'), backend, { heads: flags.integer('heads') });
  const trajPath = flags.string('trajectories');
  const ablation = flags.string('ablation') === undefined ? undefined : integers(flags, 'ablation', '');
  if (ablation && !trajPath) throw new UserError('--ablation refits l2p on subsets of calibration runs: pass --trajectories T.safetensors');
  const result = await runCacheBench({
    model,
    seeds,
    intervals: integers(flags, 'intervals', '5,7,10'),
    methods,
    steps: flags.integer('steps') ?? model.card.steps,
    cfgScale: flags.number('cfg') ?? model.card.cfgScale,
    trajectories: trajPath ? readTrajectories(trajPath) : undefined,
    weights: flags.string('weights'),
    ablation,
    saveImages: flags.string('save-images'),
    onProgress: (line) => io.info(line),
  });
  io.print(flags.bool('json') ? JSON.stringify(result, null, 2) : formatCacheTable(result));
}
