// `ditto bench cpu`: our CPU backend against the peers a user would pick instead, measured in the
// same run, each timing by Benchmark.js (bench/timing.ts: median and margin of error). Two parts:
//   1. the linear layer (matmul) at DiT-S/2 shapes, in GFLOP/s: the backend's kernels
//      (DITTO_CPU_KERNELS: WebAssembly SIMD by default) on all its threads and on one, its TypeScript
//      kernels (row 'cpu-ts') when those are not the default, and TensorFlow.js's CPU backends
//      (bench/peers/tfjs.ts: tfjs-cpu, plain JavaScript, and tfjs-wasm, XNNPACK with SIMD), which run
//      on one thread in Node: they are compared with ditto on one thread;
//   2. one DiT forward (DiT-S/2, batch 2, 4x32x32 latent, read-back included) on the CPU backend, on
//      our WebGPU backend where there is an adapter (on a machine without a GPU that is lavapipe on the
//      same cores), in ONNX Runtime and in PyTorch with as many threads as ours. With python3 and torch,
//      tools/export_dit_onnx.py makes the model (bench/peers/pytorch.ts): the ONNX file, and the same
//      weights and inputs for ditto, so every output is checked against PyTorch's. Without them ditto
//      runs seeded random weights and the peers' rows say how to get them.
// Every row carries `ratio`: ditto's median time over the row's, at the same threads (below 1: ditto
// is faster). It returns the numbers; the CLI formats them (cli/bench-tables.ts).

import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Backend } from '../core/backend.js';
import { maxRelErr } from '../core/accuracy.js';
import { CpuBackend } from '../core/cpu/backend.js';
import { readSafetensorsF32 } from '../core/safetensors.js';
import { matmulVariant } from '../kernels/cpu/wasm/matmul.js';
import { createWebGpuBackend } from '../core/webgpu/index.js';
import * as op from '../core/ops.js';
import { macsPerSample, preset } from '../models/dit/config.js';
import { DiT } from '../models/dit/dit.js';
import { loadDiT, randomWeights } from '../models/dit/weights.js';
import { matmulSampleErr } from './accuracy.js';
import { loadOnnxRuntime, type DiTFeeds } from './peers/onnxruntime.js';
import type { Importer } from './peers/peer.js';
import { exportDiT, servePyTorch } from './peers/pytorch.js';
import { loadTfjs, type TfjsBackend } from './peers/tfjs.js';
import { benchmark, type Timed } from './timing.js';

/** M x K x N of the DiT-S/2 linears at batch 2 (512 tokens): qkv, fc1, fc2. */
export const DIT_S_SHAPES: [number, number, number][] = [[512, 384, 1152], [512, 384, 1536], [512, 1536, 384]];

export interface CpuBenchOptions {
  /** Samples per matmul (Benchmark.js); the slow rows and the forwards take half as many, at least 3. */
  runs: number;
  /** Run the Python peers: PyTorch, and the export that ONNX Runtime's row needs. */
  torch: boolean;
  /** M x K x N of the matmuls (default: DIT_S_SHAPES). */
  shapes?: [number, number, number][];
  /** The DiT preset of the forward (default 'S/2'). */
  model?: string;
  /** How the peers import their packages (tests simulate a machine without them). */
  importer?: Importer;
  onProgress?: (line: string) => void;
}

/** A median with Benchmark.js's margin, and ditto's time over it (see the file's header). */
interface Measured {
  threads: number;
  ms: number | null;
  /** Margin of error of the mean, percent (95%). */
  margin_pct: number | null;
  /** ditto's median / this row's, at the same threads; null on ditto's own reference rows. */
  ratio: number | null;
  /** Why the row has no numbers. */
  skipped?: string;
}

export interface CpuMatmulRow extends Measured {
  kernel: 'matmul';
  /** 'cpu': the backend's kernels (machine.kernels); 'cpu-ts': its TypeScript kernels, when those differ. */
  backend: 'cpu' | 'cpu-ts' | 'tfjs-cpu' | 'tfjs-wasm';
  m: number;
  k: number;
  n: number;
  gflops: number | null;
  /** Against float64 dot products on a sample of outputs. */
  max_rel_err: number | null;
}

export interface CpuForwardRow extends Measured {
  backend: 'cpu' | 'webgpu' | 'onnxruntime' | 'pytorch';
  /** Against PyTorch's float32 output on the same weights and inputs (null without the export, and on PyTorch's row). */
  max_rel_err: number | null;
  /** The adapter, or the peer's version. */
  on?: string;
}

export type PeerName = 'tfjs-cpu' | 'tfjs-wasm' | 'onnxruntime' | 'pytorch';

export interface CpuBenchResult {
  machine: { cores: number; threads: number; node: string; kernels: string; peers: Record<PeerName, string> };
  rows: CpuMatmulRow[];
  dit_forward: {
    model: string;
    batch: number;
    gflop: number;
    /** Whose weights and inputs every backend ran. */
    weights: string;
    rows: CpuForwardRow[];
  };
}

function filled(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.sin(i * 12.9898 + seed) * 0.5;
  return a;
}

/** The CPU backend's linear kernels in words: 'ts', 'simd (f32x4 mul+add)' or 'simd (f32x4 relaxed FMA)'. */
function kernelsLabel(kernels: 'ts' | 'simd'): string {
  return kernels === 'ts' ? 'ts' : `simd (f32x4 ${matmulVariant()?.fma ? 'relaxed FMA' : 'mul+add'})`;
}

/** Benchmark.js on fn after `warmup` calls, in milliseconds. */
async function timed(name: string, fn: () => unknown, runs: number, warmup: number): Promise<{ ms: number; margin_pct: number }> {
  for (let i = 0; i < warmup; i++) await fn();
  const t: Timed = await benchmark(name, fn, runs);
  return { ms: t.median_s * 1000, margin_pct: t.margin_pct };
}

export async function runCpuBench(o: CpuBenchOptions): Promise<CpuBenchResult> {
  const progress = o.onProgress ?? (() => {});
  const backend = new CpuBackend();
  const threads = backend.pool.threads;
  // ditto on one thread, the tfjs peers' thread count; its TypeScript kernels when they are not the default.
  const single = threads > 1 ? new CpuBackend(1, backend.kernels) : null;
  const tsBackend = backend.kernels === 'simd' ? new CpuBackend(threads, 'ts') : null;
  const slowRuns = Math.max(3, Math.ceil(o.runs / 2));
  const dir = mkdtempSync(join(tmpdir(), 'ditto-bench-cpu-'));
  try {
    const tfjs = { cpu: await loadTfjs('cpu', o.importer), wasm: await loadTfjs('wasm', o.importer) } satisfies Record<TfjsBackend, unknown>;
    const rows: CpuMatmulRow[] = [];
    for (const [m, k, n] of o.shapes ?? DIT_S_SHAPES) {
      const x = filled(m * k, 1), w = filled(n * k, 2);
      const flop = 2 * m * k * n;
      const report = (backendName: CpuMatmulRow['backend'], threadCount: number, t: { ms: number; margin_pct: number } | { skipped: string }, out: Float32Array | null) => {
        const ours = rows.find((r) => r.m === m && r.k === k && r.n === n && r.backend === 'cpu' && r.threads === threadCount);
        const row: CpuMatmulRow = 'skipped' in t
          ? { kernel: 'matmul', backend: backendName, m, k, n, threads: threadCount, gflops: null, ms: null, margin_pct: null, ratio: null, max_rel_err: null, skipped: t.skipped }
          : {
            kernel: 'matmul', backend: backendName, m, k, n, threads: threadCount, gflops: flop / t.ms / 1e6, ms: t.ms, margin_pct: t.margin_pct,
            ratio: backendName === 'cpu' ? null : ours!.ms! / t.ms, max_rel_err: matmulSampleErr(x, w, out!, m, k, n),
          };
        rows.push(row);
        progress(`matmul ${m}x${k}x${n} ${backendName} (${threadCount} thread${threadCount > 1 ? 's' : ''}): ` + (row.skipped ? `skipped (${row.skipped})`
          : `${row.gflops!.toFixed(2)} GFLOP/s, ${row.ms!.toFixed(2)} ms ±${row.margin_pct!.toFixed(1)}%, max rel err ${row.max_rel_err!.toExponential(1)}`));
      };
      const ditto = async (b: CpuBackend, name: CpuMatmulRow['backend'], runs: number) => {
        const tx = b.upload(x, [m, k], 'f32'), tw = b.upload(w, [n, k], 'f32');
        const t = await timed(`matmul ${name}`, () => op.linear(tx, tw).dispose(), runs, 2);
        const y = op.linear(tx, tw);
        report(name, b.pool.threads, t, (await y.read()) as Float32Array);
        for (const v of [tx, tw, y]) v.dispose();
      };
      await ditto(backend, 'cpu', o.runs);
      if (single) await ditto(single, 'cpu', o.runs);
      if (tsBackend) await ditto(tsBackend, 'cpu-ts', slowRuns);
      for (const name of ['cpu', 'wasm'] as const) {
        const loaded = tfjs[name];
        if (loaded.peer === null) {
          report(`tfjs-${name}`, 1, { skipped: `unavailable: ${loaded.reason}` }, null);
          continue;
        }
        const peer = loaded.peer.matmul(x, w, m, k, n);
        const t = await timed(`matmul tfjs-${name}`, () => peer.run(), name === 'cpu' ? slowRuns : o.runs, 1);
        report(`tfjs-${name}`, loaded.peer.threads, t, await peer.read());
        peer.dispose();
      }
    }

    const modelName = o.model ?? 'S/2';
    const config = preset(modelName);
    const fullName = `DiT-${modelName}`;
    const exported = o.torch ? exportDiT(fullName, dir) : { unavailable: 'skipped (--no-torch)' };
    const shared = 'onnx' in exported ? readSafetensorsF32(exported.io).tensors : null;
    const feeds: DiTFeeds = shared
      ? { x: shared.get('x')!.data, shape: shared.get('x')!.shape, t: [...shared.get('t')!.data], y: [...shared.get('y')!.data] }
      : { x: filled(2 * 4 * 32 * 32, 3), shape: [2, 4, 32, 32], t: [999, 500], y: [1, 207] };
    const reference = shared?.get('out')!.data ?? null;
    const fwd: CpuForwardRow[] = [];
    const add = (row: CpuForwardRow) => {
      fwd.push(row);
      progress(`${fullName} forward ${row.backend}: ` + (row.skipped ? `unavailable (${row.skipped})`
        : `${(row.ms! / 1000).toFixed(3)} s ±${row.margin_pct!.toFixed(1)}%${row.max_rel_err === null ? '' : `, max rel err ${row.max_rel_err.toExponential(1)}`}`));
    };
    const measured = (backendName: CpuForwardRow['backend'], threadCount: number, t: { ms: number; margin_pct: number }, out: Float32Array | null, on?: string): CpuForwardRow => ({
      backend: backendName, threads: threadCount, ms: t.ms, margin_pct: t.margin_pct,
      ratio: backendName === 'cpu' ? null : fwd[0].ms! / t.ms,
      max_rel_err: reference && out ? maxRelErr(out, reference) : null, ...(on ? { on } : {}),
    });
    // V8 needs a few forwards to settle its JIT on every kernel shape (WebGPU: to compile): warm up twice.
    const dittoForward = async (b: Backend) => {
      const model = new DiT(config, 'onnx' in exported ? loadDiT(exported.weights, b).weights : randomWeights(config, b, 0));
      const latent = b.upload(feeds.x, feeds.shape, 'f32');
      let out: Float32Array | null = null;
      const once = async () => {
        const y = model.forward(latent, feeds.t, feeds.y);
        out = (await y.read()) as Float32Array;
        y.dispose();
      };
      const t = await timed(`${fullName} ${b.name}`, once, slowRuns, 2);
      return { t, out: out as Float32Array | null };
    };
    const cpu = await dittoForward(backend);
    add(measured('cpu', threads, cpu.t, cpu.out));
    const gpu = await createWebGpuBackend();
    try {
      if (gpu.backend) {
        const r = await dittoForward(gpu.backend);
        add(measured('webgpu', 0, r.t, r.out, gpu.backend.describe()));
      } else add({ backend: 'webgpu', threads: 0, ms: null, margin_pct: null, ratio: null, max_rel_err: null, skipped: gpu.reason });
    } finally {
      gpu.backend?.dispose();
    }
    const ort = await loadOnnxRuntime(o.importer);
    if (ort.peer !== null && 'onnx' in exported) {
      const session = await ort.peer.session(exported.onnx, feeds, threads);
      try {
        let out: Float32Array | null = null;
        const t = await timed(`${fullName} onnxruntime`, async () => void (out = await session.run()), slowRuns, 2);
        add(measured('onnxruntime', threads, t, out, ort.peer.version));
      } finally {
        await session.dispose();
      }
    } else {
      const why = ort.peer === null ? ort.reason : `needs the ONNX file of tools/export_dit_onnx.py: ${(exported as { unavailable: string }).unavailable}`;
      add({ backend: 'onnxruntime', threads, ms: null, margin_pct: null, ratio: null, max_rel_err: null, skipped: why });
    }
    const torch = 'onnx' in exported ? await servePyTorch(fullName, threads, 2) : exported;
    if ('unavailable' in torch) add({ backend: 'pytorch', threads, ms: null, margin_pct: null, ratio: null, max_rel_err: null, skipped: torch.unavailable });
    else {
      try {
        add(measured('pytorch', torch.threads, await timed(`${fullName} pytorch`, () => torch.forward(), slowRuns, 0), null, torch.version));
      } finally {
        torch.close();
      }
    }
    const version = (r: { peer: { version: string } | null; reason: string | null }) => r.peer?.version ?? `unavailable: ${r.reason}`;
    const torchRow = fwd.at(-1)!;
    return {
      machine: {
        cores: availableParallelism(), threads, node: process.version, kernels: kernelsLabel(backend.kernels),
        peers: { 'tfjs-cpu': version(tfjs.cpu), 'tfjs-wasm': version(tfjs.wasm), onnxruntime: version(ort), pytorch: torchRow.on ?? `unavailable: ${torchRow.skipped}` },
      },
      rows,
      dit_forward: {
        // Batch 2, two FLOPs per multiply-accumulate.
        model: fullName, batch: 2, gflop: (2 * 2 * macsPerSample(config)) / 1e9,
        weights: 'onnx' in exported ? `tools/export_dit_onnx.py (${exported.torch}): seeded, shared by every row` : 'ditto\'s seeded random weights (no export: the peers are skipped)',
        rows: fwd,
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await backend.pool.close();
    await single?.pool.close();
    await tsBackend?.pool.close();
  }
}
