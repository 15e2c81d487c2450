// The benchmarks' results as the tables `ditto bench` prints: bench/ computes, this formats. Columns
// go through core/table.ts's formatTable, like every table ditto prints.

import { basename } from 'node:path';
import type { CacheBenchResult } from '../bench/cache.js';
import type { CpuBenchResult, CpuForwardRow, CpuMatmulRow } from '../bench/cpu.js';
import type { ModelBenchResult } from '../bench/models.js';
import type { ProfileBenchResult } from '../bench/profile.js';
import { label, margin, type KernelBackendName, type KernelBenchResult, type KernelRow } from '../bench/kernels.js';
import { formatTable } from '../core/table.js';
import { explicitSchedule, strip } from '../predictors/schedule.js';

/** `bench cpu`: one line per matmul shape x backend x threads, then one per forward backend; skipped rows as notes. */
export function formatCpuTable(r: CpuBenchResult): string {
  const m = r.machine;
  const out = [
    `CPU benchmark: ${m.cores} cores, ${m.threads} threads, Node ${m.node}, ${m.kernels} kernels`,
    `peers: ${Object.entries(m.peers).map(([name, v]) => `${name} = ${v}`).join('; ')}`,
    'median ±margin: Benchmark.js, margin of error of the mean at 95%; ditto/row: ditto\'s median time over the row\'s at the same threads (below 1: ditto faster)',
    '',
  ];
  const notes: string[] = [];
  const timing = (x: CpuMatmulRow | CpuForwardRow, unit: number, digits: number) => (x.ms === null ? '-' : `${(x.ms / unit).toFixed(digits)} ±${x.margin_pct!.toFixed(1)}%`);
  const ratio = (x: CpuMatmulRow | CpuForwardRow) => (x.ratio === null ? '' : `${x.ratio.toFixed(2)}`);
  const err = (x: CpuMatmulRow | CpuForwardRow) => (x.max_rel_err === null ? '-' : x.max_rel_err.toExponential(1));
  const name = (backend: string) => (['cpu', 'cpu-ts', 'webgpu'].includes(backend) ? `ditto ${backend}` : backend);
  out.push(formatTable(['matmul M x K x N', 'backend', 'threads', 'GFLOP/s', 'median ms', 'ditto/row', 'max rel err'], r.rows.map((x) => {
    if (x.skipped) notes.push(`${x.backend} matmul ${x.m}x${x.k}x${x.n}: ${x.skipped}`);
    return [`${x.m}x${x.k}x${x.n}`, name(x.backend), String(x.threads), x.gflops === null ? '-' : x.gflops.toFixed(2), timing(x, 1, 2), ratio(x), err(x)];
  })));
  const f = r.dit_forward;
  out.push('', `${f.model} forward, batch ${f.batch} (${f.gflop.toFixed(1)} GFLOP), read-back included; weights: ${f.weights}`);
  out.push(formatTable(['backend', 'threads', 'median s', 'GFLOP/s', 'ditto/row', 'max rel err vs PyTorch', 'on'], f.rows.map((x) => {
    if (x.skipped) notes.push(`${x.backend} forward: ${x.skipped}`);
    return [name(x.backend), x.backend === 'webgpu' ? '-' : String(x.threads), timing(x, 1000, 3), x.ms === null ? '-' : (f.gflop / (x.ms / 1000)).toFixed(2), ratio(x), err(x), x.on ?? ''];
  })));
  out.push('matmul max rel err: against float64 dot products on sampled outputs');
  for (const n of notes) out.push(`note: ${n}`);
  return out.join('\n');
}

const KERNEL_COLUMNS: Record<'matmul' | 'attention', KernelBackendName[]> = {
  matmul: ['webgpu', 'tfjs-webgpu', 'gpujs', 'cpu'],
  attention: ['webgpu', 'webgpu-unfused', 'tfjs-webgpu', 'gpujs', 'cpu'],
};

function ratio(a: KernelRow | undefined, b: KernelRow | undefined): string {
  return a?.gflops && b?.gflops ? `${(a.gflops / b.gflops).toFixed(2)}x` : '-';
}

/** `bench kernels`: GFLOP/s (median ms ±margin) per backend, ratios, then errors and notes. */
export function formatKernelTable(r: KernelBenchResult): string {
  const out: string[] = [];
  out.push(`WebGPU kernels on ${r.device.name}; Node ${r.device.node}, ${r.device.cores} cores (cpu backend: ${r.device.cpu_threads} threads)`);
  out.push(`peers: tfjs-webgpu = ${r.device.peers['tfjs-webgpu']}; gpujs = ${r.device.peers.gpujs}`);
  out.push(`GFLOP/s (median ms ±margin) over ${r.runs} runs after warm-up; margin: of the mean at 95% (Student's t, as Benchmark.js); * = runs capped to fit the time budget (see runs in --json)`);
  const capped = (row: KernelRow) => row.runs > 0 && row.runs < r.runs;
  const cell = (row: KernelRow | undefined) => {
    if (!row) return '';
    if (row.skipped) return 'skipped';
    const ms = row.ms! >= 100 ? row.ms!.toFixed(0) : row.ms!.toFixed(2);
    return `${row.gflops!.toFixed(2)} (${ms} ms${margin(row.margin_pct)})${capped(row) ? '*' : ''}`;
  };
  const notes = new Set<string>();
  for (const kernel of ['matmul', 'attention'] as const) {
    const rows = r.rows.filter((x) => x.kernel === kernel);
    if (rows.length === 0) continue;
    const cols = KERNEL_COLUMNS[kernel];
    const ratios = kernel === 'matmul' ? ['webgpu/tfjs'] : ['fused/unfused', 'webgpu/tfjs'];
    const head = kernel === 'matmul' ? 'matmul M x K x N' : 'attention (BH, T, hd)';
    const lines = [...new Set(rows.map(label))].map((shape) => {
      const by = (b: KernelBackendName) => rows.find((x) => label(x) === shape && x.backend === b);
      const rs = kernel === 'matmul' ? [ratio(by('webgpu'), by('tfjs-webgpu'))] : [ratio(by('webgpu'), by('webgpu-unfused')), ratio(by('webgpu'), by('tfjs-webgpu'))];
      return [shape, ...cols.map((c) => cell(by(c))), ...rs];
    });
    const errors = cols.map((c) => {
      const errs = rows.filter((x) => x.backend === c && x.max_rel_err !== null).map((x) => x.max_rel_err!);
      return errs.length ? `<= ${Math.max(...errs).toExponential(1)}` : '-';
    });
    out.push('');
    out.push(formatTable([head, ...cols, ...ratios], [...lines, ['max rel err vs cpu', ...errors, ...ratios.map(() => '')]]));
    for (const x of rows) {
      if (x.skipped) notes.add(`${x.backend} ${x.kernel} ${label(x)}: ${x.skipped}`);
    }
  }
  const timings = new Map<string, Set<string>>();
  for (const x of r.rows) if (x.timing) timings.set(x.backend, (timings.get(x.backend) ?? new Set()).add(x.timing));
  out.push('');
  out.push(`timing: ${[...timings].map(([b, t]) => `${b} ${[...t].join('/')}`).join(', ')} (see bench/kernels.ts)`);
  out.push('cpu max rel err: against float64 on sampled outputs; the others: against the cpu result');
  for (const n of notes) out.push(`note: ${n}`);
  return out.join('\n');
}

/** `bench cache`: one row per method x interval (and per calibration subset of the ablation), then one per searched schedule. */
export function formatCacheTable(r: CacheBenchResult): string {
  const name = (row: CacheBenchResult['rows'][number]) => (row.interval === null ? `searched (${basename(row.schedule)})` : `${row.schedule} N=${row.interval}`);
  const named = new Map(r.rows.map((row) => [name(row), row.full_steps]));
  const width = Math.max(...[...named.keys()].map((k) => k.length));
  const strips = [...named].map(([label, full]) => `  ${label.padEnd(width)}  ${strip(explicitSchedule(full, r.steps))}`);
  const rows = r.rows.map((row) => [
    row.calibration_runs ? `${row.method}[${row.calibration_runs}]` : row.method,
    name(row),
    String(row.full_steps.length),
    row.flops_speedup.toFixed(2),
    row.latency_speedup.toFixed(2),
    row.psnr.toFixed(2),
    row.ssim.toFixed(3),
    row.rel_l2.toFixed(4),
  ]);
  return [
    `${r.seeds.length} samples (seeds ${r.seeds[0]}..${r.seeds.at(-1)}), ${r.steps} steps, cfg ${r.cfg_scale}, ${r.backend}; reference ${r.reference_seconds.toFixed(2)} s (mean of ${r.reference_runs_seconds.length} runs)`,
    formatTable(['method', 'schedule', 'full', 'FLOPs x', 'latency x', 'PSNR dB', 'SSIM', 'rel L2'], rows),
    `SSIM: ${r.ssim}`,
    'schedules (# runs the model, . is forecast):',
    ...strips,
  ].join('\n');
}

/** `bench models`: seconds per backend for each whole-model task, and how each compares with PyTorch. */
export function formatModelTable(r: ModelBenchResult): string {
  const out = [`Whole models: median of ${r.runs} run(s) after one warm-up; ratio = seconds / PyTorch's seconds (lower is faster)`];
  for (const { task, gflop } of r.tasks) {
    const rows = r.rows.filter((x) => x.task === task);
    const torch = rows.find((x) => x.backend === 'pytorch')?.seconds ?? null;
    out.push('', `${task} (${gflop.toFixed(1)} GFLOP)`);
    out.push(formatTable(['backend', 'seconds', 'GFLOP/s', 'vs PyTorch', 'on'], rows.map((x) => x.seconds === null
      ? [x.backend, '-', '-', '-', `unavailable: ${x.unavailable}`]
      : [x.backend, x.seconds.toFixed(3), (gflop / x.seconds).toFixed(2), torch ? `${(x.seconds / torch).toFixed(2)}x` : '-', x.detail ?? ''])));
  }
  return out.join('\n');
}

const PROFILE_TIMING: Record<ProfileBenchResult['timing'], string> = {
  timestamp: 'GPU timestamps, one compute pass per dispatch',
  wall: 'wall time per dispatch, each replayed alone and waited for (the adapter has no timestamp queries)',
  'op-wall': 'wall time per op call (CPU ops finish before they return)',
};

/** `bench profile`: one forward's time by kernel, the most first. */
export function formatProfileTable(r: ProfileBenchResult): string {
  return [
    `${r.model}, batch ${r.batch}, ${r.backend}: forward ${(r.forward_s * 1000).toFixed(1)} ms unprofiled (median of ${r.runs}); ` +
      `${r.dispatches} dispatches sum to ${r.dispatch_ms.toFixed(1)} ms (each dispatch's median over ${r.runs} profiled forwards)`,
    `timing: ${PROFILE_TIMING[r.timing]}`,
    formatTable(['kernel', 'dispatches', 'total ms', '% of forward'], r.rows.map((x) => [x.kernel, String(x.dispatches), x.ms.toFixed(2), `${x.pct.toFixed(1)}%`])),
  ].join('\n');
}
