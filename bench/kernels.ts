// `ditto bench kernels`: our WGSL kernels against what a user would pick instead, measured in one run
// on one adapter. For the linear layer (matmul) at the DiT-S/2 and DiT-XL/2 shapes and attention at
// DiT head shapes, each backend gets a row:
//   webgpu          our kernel (kernels/webgpu/matmul.ts, the fused flash attention in kernels/webgpu/attention.ts)
//   webgpu-unfused  attention only: our matmul, softmax, matmul, the path fused attention replaces
//   tfjs-webgpu     TensorFlow.js's WebGPU backend, on our own GPUDevice (bench/peers/tfjs-webgpu.ts)
//   gpujs           gpu.js in its WebGPU mode, on its own device on the same adapter (bench/peers/gpujs.ts)
//   cpu             our CPU backend, whose result is the reference for every row's max_rel_err
//
// Timing. GPU rows report GPU time from timestamp queries written at the start and end of the compute
// pass (unquantized: see core/webgpu/device.ts), so the CPU's recording, submit and readback are not
// counted; tfjs reports the same through tf.time's kernelMs. Each row says how it was timed ("timing"):
//   timestamp      timestamp queries around our pass, or around each pass gpu.js records
//   tfjs-kernelMs  tf.time(): timestamp queries around each tfjs program, summed
//   wall-sync      wall clock from recording until the GPU is done (no timestamp queries)
//   wall-readback  wall clock around the op and the readback of its result
//   wall           wall clock around a synchronous call (the CPU backend, gpu.js off WebGPU)
// Every cell warms up (the first run compiles its pipeline) and times one run to estimate its cost,
// then reports the median of `runs` more, with the margin of error of their mean at 95% (margin_pct:
// Student's t, as Benchmark.js computes it for bench cpu and bench forward; bench/timing.ts marginPct);
// a cell whose runs would take longer than the budget (60 s) runs fewer, at least 3, and its row's
// "runs" says how many. Fused and unfused attention, whose ratio is the point, take their runs in
// alternating blocks (measureAlternating).
//
// Error: max|a - b| / max|b| against the CPU backend's result; the CPU row's own is against float64
// dot products on a sample of outputs.

import { availableParallelism } from 'node:os';
import { maxRelErr } from '../core/accuracy.js';
import { CpuBackend } from '../core/cpu/backend.js';
import { UserError } from '../core/errors.js';
import * as op from '../core/ops.js';
import type { Tensor } from '../core/tensor.js';
import { createWebGpuBackend, gentle, timeOp, type AdapterReport, type WebGpuBackend, type WebGpuResult } from '../core/webgpu/index.js';
import { attentionFlops } from '../kernels/webgpu/attention.js';
import { matmulFlops } from '../kernels/webgpu/matmul.js';
import { DIT_S_SHAPES } from './cpu.js';
import { loadGpujs } from './peers/gpujs.js';
import type { AttentionPeer, Importer, Peer, PeerOp, PeerResult, Timing } from './peers/peer.js';
import { loadTfjsWebgpu } from './peers/tfjs-webgpu.js';
import { marginPct, median } from './timing.js';
import { attentionSampleErr, matmulSampleErr } from './accuracy.js';

/** M x K x N of the DiT-XL/2 linears at batch 2 (512 tokens): qkv, fc1, fc2. */
const DIT_XL_SHAPES: [number, number, number][] = [[512, 1152, 3456], [512, 1152, 4608], [512, 4608, 1152]];
/**
 * (batch * heads, tokens, head_dim) at batch 2: DiT-S/2 (6 heads of 64) at 256x256 px, DiT-XL/2 (16
 * heads of 72) at 256x256 px (256 tokens) and 512x512 px (1024 tokens).
 */
const ATTENTION_SHAPES: [number, number, number][] = [[12, 256, 64], [32, 256, 72], [32, 1024, 72]];

export type KernelBackendName = 'webgpu' | 'webgpu-unfused' | 'tfjs-webgpu' | 'gpujs' | 'cpu';

interface RowCommon {
  backend: KernelBackendName;
  gflops: number | null;
  ms: number | null;
  /** Relative margin of error of the timed runs' mean at 95%, in percent; null with fewer than 2 runs. */
  margin_pct: number | null;
  max_rel_err: number | null;
  timing: Timing | null;
  runs: number;
  /** gpujs: the mode it ran in. */
  mode?: string;
  /** Why the row has no numbers. */
  skipped?: string;
}
export type MatmulRow = RowCommon & { kernel: 'matmul'; m: number; k: number; n: number };
export type AttentionRow = RowCommon & { kernel: 'attention'; bh: number; tokens: number; head_dim: number };
export type KernelRow = MatmulRow | AttentionRow;

export interface KernelBenchResult {
  device: AdapterReport & { name: string; node: string; cores: number; cpu_threads: number; peers: Record<string, string> };
  /** Requested timed runs per cell. */
  runs: number;
  rows: KernelRow[];
}

export interface KernelBenchOptions {
  /** Timed runs per cell (the median is reported). */
  runs: number;
  /** The CI smoke test: the DiT-S matmuls and the first attention shape only. */
  quick?: boolean;
  /** Shape lists replacing the defaults (tests). */
  matmul?: [number, number, number][];
  attention?: [number, number, number][];
  /** Benchmark tfjs-webgpu and gpu.js too (default true). */
  peers?: boolean;
  /** How the peers import their packages (tests simulate a machine without them). */
  importer?: Importer;
  /** Seconds one cell may take before its runs are capped. */
  budgetS?: number;
  /** A WebGPU backend to borrow (left open); by default one is opened and disposed. */
  gpu?: WebGpuBackend;
  /** How to open one (tests simulate a machine without an adapter). */
  openGpu?: () => Promise<WebGpuResult>;
  onProgress?: (line: string) => void;
}

const MIN_RUNS = 3;

/** Deterministic inputs in [-0.5, 0.5]. */
function filled(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.sin(i * 12.9898 + seed) * 0.5;
  return a;
}

/** `runs` timed runs after `warmup` untimed ones. */
type Timer = (runs: number, warmup: number) => Promise<{ timesMs: number[]; timing: Timing }>;

function gpuTimer(gpu: WebGpuBackend, fn: () => Tensor): Timer {
  return async (runs, warmup) => {
    const t = await timeOp(gpu, fn, { runs, warmup });
    return { timesMs: t.timesMs, timing: t.method === 'timestamp' ? 'timestamp' : 'wall-sync' };
  };
}

/** The CPU backend computes synchronously (its thread pool is joined before an op returns). */
function cpuTimer(fn: () => Tensor): Timer {
  return async (runs, warmup) => {
    for (let i = 0; i < warmup; i++) fn().dispose();
    const timesMs: number[] = [];
    for (let i = 0; i < runs; i++) {
      const start = performance.now();
      fn().dispose();
      timesMs.push(performance.now() - start);
    }
    return { timesMs, timing: 'wall' };
  };
}

function peerTimer(p: PeerOp): Timer {
  return async (runs, warmup) => {
    for (let i = 0; i < warmup; i++) await p.run();
    const timesMs: number[] = [];
    let timing: Timing = 'wall';
    for (let i = 0; i < runs; i++) {
      const r = await p.run();
      timesMs.push(r.ms);
      timing = r.timing;
    }
    return { timesMs, timing };
  };
}

/** `runs`, or fewer (at least MIN_RUNS) where runs of `estimateMs` each would overrun the budget. */
function plannedRuns(estimateMs: number, runs: number, budgetMs: number): number {
  return Math.min(runs, Math.max(MIN_RUNS, Math.floor(budgetMs / Math.max(estimateMs, 1e-3))));
}

/** A cell's timed runs: their median, margin and count, and how they were timed. */
interface Measured {
  ms: number;
  margin_pct: number | null;
  runs: number;
  timing: Timing;
}

function measured(timesMs: readonly number[], timing: Timing): Measured {
  const margin = marginPct(timesMs);
  return { ms: median(timesMs), margin_pct: Number.isNaN(margin) ? null : margin, runs: timesMs.length, timing };
}

/**
 * One cell: a warm-up run and one timed run, whose time estimates the cost, then the median and margin
 * of up to `runs` more, as many as fit the budget but at least MIN_RUNS.
 */
async function measure(timer: Timer, runs: number, budgetMs: number): Promise<Measured> {
  const planned = plannedRuns((await timer(1, 1)).timesMs[0], runs, budgetMs);
  const timed = await timer(planned, 0);
  return measured(timed.timesMs, timed.timing);
}

/** Blocks per timer in measureAlternating. */
const ROUNDS = 3;

/**
 * measure() for several timers whose ratio is the point (fused against unfused attention): their runs
 * alternate in ROUNDS blocks, so that a machine whose speed drifts (a shared one) slows them alike. A
 * block runs back to back after one untimed run, as measure()'s runs do: single runs between syncs
 * would time each kernel from an idle GPU, which penalises the path with more dispatches.
 */
async function measureAlternating(timers: Timer[], runs: number, budgetMs: number): Promise<Measured[]> {
  const estimates: number[] = [];
  for (const timer of timers) estimates.push((await timer(1, 1)).timesMs[0]);
  const perBlock = Math.ceil(plannedRuns(estimates.reduce((a, b) => a + b, 0), runs, budgetMs) / ROUNDS);
  const times: number[][] = timers.map(() => []);
  const timing: Timing[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, timer] of timers.entries()) {
      const t = await timer(perBlock, 1);
      times[i].push(...t.timesMs);
      timing[i] = t.timing;
    }
  }
  return times.map((ts, i) => measured(ts, timing[i]));
}

/** ` ±1.2%`, or nothing where a cell has no margin (fewer than 2 runs). */
export function margin(pct: number | null): string {
  return pct === null ? '' : ` ±${pct.toFixed(1)}%`;
}

/** A problem: its shape fields as they appear in a row, FLOPs, and a label. */
type Problem =
  | { kernel: 'matmul'; m: number; k: number; n: number }
  | { kernel: 'attention'; bh: number; tokens: number; head_dim: number };

function flops(p: Problem): number {
  return p.kernel === 'matmul'
    ? matmulFlops({ batch: 1, m: p.m, n: p.n, k: p.k, bLayout: 'nk', bBatched: false, bias: false, act: 'none', alpha: 1 })
    : attentionFlops(p.bh, p.tokens, p.head_dim);
}

export function label(p: Problem): string {
  return p.kernel === 'matmul' ? `${p.m}x${p.k}x${p.n}` : `(${p.bh}, ${p.tokens}, ${p.head_dim})`;
}

function makeRow(p: Problem, backend: KernelBackendName, m: Measured, err: number, extra: Partial<RowCommon> = {}): KernelRow {
  return { ...p, backend, gflops: flops(p) / m.ms / 1e6, ms: m.ms, margin_pct: m.margin_pct, max_rel_err: err, timing: m.timing, runs: m.runs, ...extra } as KernelRow;
}

function skippedRow(p: Problem, backend: KernelBackendName, reason: string, extra: Partial<RowCommon> = {}): KernelRow {
  return { ...p, backend, gflops: null, ms: null, margin_pct: null, max_rel_err: null, timing: null, runs: 0, ...extra, skipped: reason } as KernelRow;
}

/** Makes Dawn's GPU object navigator.gpu, which is where both peers look for WebGPU. */
async function provideNavigatorGpu(): Promise<void> {
  const g = globalThis as { navigator?: { gpu?: GPU } };
  if (g.navigator?.gpu) return;
  const { create } = await import('webgpu');
  // A second Dawn instance, with our flags (exact timestamps): it enumerates the same adapters.
  // navigator keeps it reachable, which Dawn needs (core/webgpu/device.ts).
  const gpu = create(['disable-dawn-features=timestamp_quantization']);
  if (g.navigator) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
}

/** A peer, unless peers are off; its reason, when it has none, reads as a note on its rows. */
async function loadIf<P extends Peer>(on: boolean, load: () => Promise<PeerResult<P>>): Promise<PeerResult<P>> {
  if (!on) return { peer: null, reason: 'not benchmarked (peers off)' };
  const loaded = await load();
  return loaded.peer ? loaded : { peer: null, reason: `unavailable: ${loaded.reason}` };
}

function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n')[0];
}

export async function runKernelBench(o: KernelBenchOptions): Promise<KernelBenchResult> {
  const progress = o.onProgress ?? (() => {});
  const budgetMs = (o.budgetS ?? 60) * 1000;
  let gpu = o.gpu;
  if (!gpu) {
    const opened = await (o.openGpu ?? createWebGpuBackend)();
    if (!opened.backend) {
      throw new UserError(`no WebGPU adapter to benchmark: ${opened.reason}. Install a Vulkan driver: apt-get install mesa-vulkan-drivers (on Debian 12 from bookworm-backports: apt-get install -t bookworm-backports mesa-vulkan-drivers)`);
    }
    gpu = opened.backend;
  }
  const cpu = new CpuBackend();

  // Peers: load each once; one that is missing or fails to load gets a skipped row per problem, with the reason.
  const peers = o.peers ?? true;
  if (peers) await provideNavigatorGpu();
  const tfjs = await loadIf(peers, () => loadTfjsWebgpu(gpu.device, gpu.adapter, o.importer));
  const gpujs = await loadIf(peers, () => loadGpujs(o.importer));
  const peersInfo: Record<string, string> = {
    'tfjs-webgpu': tfjs.peer ? `${tfjs.peer.version} on ditto's own GPUDevice` : tfjs.reason,
    gpujs: gpujs.peer
      ? `${gpujs.peer.version}, mode ${gpujs.peer.mode}` + (gpujs.peer.mode === 'webgpu' ? ', its own GPUDevice on the same adapter (navigator.gpu)' : ` (${gpujs.peer.fallbackReason})`)
      : gpujs.reason,
  };
  const gpujsMode: Partial<RowCommon> = { mode: gpujs.peer?.mode ?? 'unavailable' };

  const matmulShapes = o.matmul ?? (o.quick ? DIT_S_SHAPES : [...DIT_S_SHAPES, ...DIT_XL_SHAPES]);
  const attentionShapes = o.attention ?? (o.quick ? ATTENTION_SHAPES.slice(0, 1) : ATTENTION_SHAPES);
  const rows: KernelRow[] = [];
  const report = (r: KernelRow) => {
    rows.push(r);
    progress(`${r.kernel} ${label(r)} ${r.backend}: ` + (r.skipped ? `skipped (${r.skipped})`
      : `${r.gflops!.toFixed(2)} GFLOP/s, ${r.ms!.toFixed(2)} ms${margin(r.margin_pct)} (median of ${r.runs}, ${r.timing}), max rel err ${r.max_rel_err!.toExponential(1)}`));
  };

  /**
   * Times a peer's op (`make` builds it) and checks it against the reference. A peer's failure
   * becomes a skipped row: it is their bug or limit, not ours.
   */
  async function peerRow(p: Problem, backend: KernelBackendName, loaded: PeerResult<AttentionPeer>, make: (peer: AttentionPeer) => PeerOp, ref: Float32Array, extra: Partial<RowCommon> = {}): Promise<void> {
    if (loaded.peer === null) return report(skippedRow(p, backend, loaded.reason, extra));
    let peerOp: PeerOp | null = null;
    try {
      peerOp = make(loaded.peer);
      // Dawn's polling throttled for the peers' waits as for ours (core/webgpu/polling.ts).
      const m = await gentle(() => measure(peerTimer(peerOp!), o.runs, budgetMs));
      report(makeRow(p, backend, m, maxRelErr(await gentle(peerOp.read()), ref), extra));
    } catch (e) {
      report(skippedRow(p, backend, `failed: ${firstLine(e)}`, extra));
    } finally {
      peerOp?.dispose();
    }
  }

  try {
    for (const [m, k, n] of matmulShapes) {
      const p: Problem = { kernel: 'matmul', m, k, n };
      const x = filled(m * k, 1), w = filled(n * k, 2);
      // The CPU first: its result is the reference.
      const cx = cpu.upload(x, [m, k], 'f32'), cw = cpu.upload(w, [n, k], 'f32');
      const cpuTime = await measure(cpuTimer(() => op.linear(cx, cw)), o.runs, budgetMs);
      const ref = await readOnce(() => op.linear(cx, cw));
      cx.dispose();
      cw.dispose();

      const gx = gpu.upload(x, [m, k], 'f32'), gw = gpu.upload(w, [n, k], 'f32');
      const ours = await measure(gpuTimer(gpu, () => op.linear(gx, gw)), o.runs, budgetMs);
      report(makeRow(p, 'webgpu', ours, maxRelErr(await readOnce(() => op.linear(gx, gw)), ref)));
      gx.dispose();
      gw.dispose();

      await peerRow(p, 'tfjs-webgpu', tfjs, (t) => t.matmul(x, w, m, k, n), ref);
      await peerRow(p, 'gpujs', gpujs, (g) => g.matmul(x, w, m, k, n), ref, gpujsMode);
      report(makeRow(p, 'cpu', cpuTime, matmulSampleErr(x, w, ref, m, k, n)));
    }

    for (const [bh, t, hd] of attentionShapes) {
      const p: Problem = { kernel: 'attention', bh, tokens: t, head_dim: hd };
      const scale = 1 / Math.sqrt(hd);
      const q = filled(bh * t * hd, 3), k = filled(bh * t * hd, 4), v = filled(bh * t * hd, 5);
      const [cq, ck, cv] = [q, k, v].map((data) => cpu.upload(data, [bh, t, hd], 'f32'));
      const cpuTime = await measure(cpuTimer(() => op.attention(cq, ck, cv, scale)), o.runs, budgetMs);
      const ref = await readOnce(() => op.attention(cq, ck, cv, scale));
      for (const c of [cq, ck, cv]) c.dispose();

      const [gq, gk, gv] = [q, k, v].map((data) => gpu.upload(data, [bh, t, hd], 'f32'));
      const fused = () => op.attention(gq, gk, gv, scale);
      // The unfused path: the scores [bh, t, t] go to memory, softmax reads and rewrites them, P·V reads them.
      const unfused = () => {
        const s = gpu.matmul(gq, gk, { transposeB: true, alpha: scale });
        const probs = op.softmax(s);
        s.dispose();
        const out = gpu.matmul(probs, gv, { transposeB: false });
        probs.dispose();
        return out;
      };
      const [fusedTime, unfusedTime] = await measureAlternating([gpuTimer(gpu, fused), gpuTimer(gpu, unfused)], o.runs, budgetMs);
      report(makeRow(p, 'webgpu', fusedTime, maxRelErr(await readOnce(fused), ref)));
      report(makeRow(p, 'webgpu-unfused', unfusedTime, maxRelErr(await readOnce(unfused), ref)));
      for (const g of [gq, gk, gv]) g.dispose();

      await peerRow(p, 'tfjs-webgpu', tfjs, (peer) => peer.attention(q, k, v, bh, t, hd, scale), ref);
      await peerRow(p, 'gpujs', gpujs, (peer) => peer.attention(q, k, v, bh, t, hd, scale), ref, gpujsMode);
      report(makeRow(p, 'cpu', cpuTime, attentionSampleErr(q, k, v, ref, bh, t, hd, scale)));
    }
  } finally {
    await cpu.pool.close();
    if (!o.gpu) gpu.dispose();
  }
  const device = { ...gpu.adapter, name: gpu.describe(), node: process.version, cores: availableParallelism(), cpu_threads: cpu.pool.threads, peers: peersInfo };
  return { device, runs: o.runs, rows };
}

/** Runs `fn` once and reads its result back. */
async function readOnce(fn: () => Tensor): Promise<Float32Array> {
  const t = fn();
  try {
    return (await t.read()) as Float32Array;
  } finally {
    t.dispose();
  }
}
