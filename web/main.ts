/// <reference lib="dom" />
// The page: the bundled MNIST DiT draws a digit with full compute, TaylorSeer and L2P side by side,
// each with its wall time, model calls and FLOPs saved, its schedule as a strip (dark: the model ran,
// light: forecast), L2P's learned matrix W as a heat map, and the backend it all ran on.
//
// The query string is the `ditto sample` command line: ?class=7&seed=3&cache=l2p&interval=5 (also steps,
// cfg, model, backend=auto|cpu|webgpu) draws exactly that sample, alone; without `cache` the page draws
// the comparison. When it has finished it sets window.dittoResult = { width, height, pixels (8-bit
// gray, row-major), ms, backend, adapter } for the requested sample (cache=none in the comparison), or
// { error } with the one line the page shows, so a test or a script can drive it.

import { UserError } from '../core/errors.js';
import { METHODS } from '../predictors/methods.js';
import type { Schedule } from '../predictors/schedule.js';
import { drawSample, openBackend, openPageModel, PAGE_MODELS, type PageSample, type SampleRequest } from './engine.js';

declare global {
  interface Window {
    dittoResult?: { width: number; height: number; pixels: number[]; ms: number; backend: string; adapter: string | null } | { error: string };
    /** Milliseconds from navigation to the first finished sample on the page. */
    dittoFirstSampleMs?: number;
  }
}

const $ = (id: string) => document.getElementById(id)!;

/** An integer query parameter; absent or empty is undefined, anything else must be a whole number. */
function integer(params: URLSearchParams, name: string): number | undefined {
  const v = params.get(name);
  if (v === null || v === '') return undefined;
  if (!/^\d+$/.test(v)) throw new UserError(`${name}=${v}: give a whole number`);
  return Number(v);
}

function parseRequest(params: URLSearchParams): { request: SampleRequest; compare: boolean; backend: 'auto' | 'cpu' | 'webgpu' } {
  const known = new Set(['class', 'seed', 'cache', 'interval', 'steps', 'cfg', 'model', 'backend']);
  for (const name of params.keys()) if (!known.has(name)) throw new UserError(`unknown parameter "${name}": use ${[...known].join(', ')}`);
  const model = params.get('model') || 'mnist-dit';
  if (!(PAGE_MODELS as readonly string[]).includes(model)) throw new UserError(`model=${model}: the page has ${PAGE_MODELS.join(', ')}`);
  const cache = params.get('cache') || null;
  if (cache !== null && cache !== 'none' && !(METHODS as readonly string[]).includes(cache)) throw new UserError(`cache=${cache}: use none, ${METHODS.join(', ')}`);
  const backend = params.get('backend') || 'auto';
  if (backend !== 'auto' && backend !== 'cpu' && backend !== 'webgpu') throw new UserError(`backend=${backend}: use auto, cpu or webgpu`);
  const cfgText = params.get('cfg');
  const cfg = cfgText === null || cfgText === '' ? undefined : Number(cfgText);
  if (cfg !== undefined && !Number.isFinite(cfg)) throw new UserError(`cfg=${cfgText}: give a number`);
  const interval = integer(params, 'interval');
  return {
    request: { model, cls: integer(params, 'class') ?? 7, seed: integer(params, 'seed') ?? 0, steps: integer(params, 'steps'), cfg, cache: (cache ?? 'none') as SampleRequest['cache'], interval: cache === null ? undefined : interval },
    compare: cache === null,
    backend,
  };
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) throw new UserError(`${url}: ${response.status} ${response.statusText}: serve the page with \`ditto web\``);
  return new Uint8Array(await response.arrayBuffer());
}

/** An 8-bit gray image on a canvas (enlarged by CSS, pixelated). */
function drawImage(canvas: HTMLCanvasElement, s: PageSample): void {
  canvas.width = s.width;
  canvas.height = s.height;
  const rgba = new ImageData(s.width, s.height);
  s.pixels.forEach((v, i) => rgba.data.set([v, v, v, 255], 4 * i));
  canvas.getContext('2d')!.putImageData(rgba, 0, 0);
}

/** One cell per step: dark where the model ran, light where the predictor forecast. */
function drawSchedule(canvas: HTMLCanvasElement, schedule: Schedule): void {
  canvas.width = schedule.steps;
  canvas.height = 1;
  const ctx = canvas.getContext('2d')!;
  for (let s = 0; s < schedule.steps; s++) {
    ctx.fillStyle = schedule.isFull(s) ? '#1f3b73' : '#c9d6ee';
    ctx.fillRect(s, 0, 1, 1);
  }
}

/** W (rows: the step forecast, columns: the history step) in a diverging map: red positive, blue negative. */
function drawWeights(canvas: HTMLCanvasElement, w: number[][]): void {
  const n = w.length;
  canvas.width = n;
  canvas.height = n;
  const peak = Math.max(1e-12, ...w.flat().map(Math.abs));
  const img = new ImageData(n, n);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      const t = Math.sqrt(Math.abs(w[r][c]) / peak); // square root: small weights stay visible
      const [R, G, B] = w[r][c] >= 0 ? [255, 255 * (1 - t), 255 * (1 - t)] : [255 * (1 - t), 255 * (1 - t), 255];
      img.data.set([R, G, B, 255], 4 * (r * n + c));
    }
  }
  canvas.getContext('2d')!.putImageData(img, 0, 0);
}

function panel(title: string): { root: HTMLElement; image: HTMLCanvasElement; strip: HTMLCanvasElement; caption: HTMLElement } {
  const root = document.createElement('figure');
  root.innerHTML = `<canvas class="digit"></canvas><canvas class="strip"></canvas><figcaption><b>${title}</b><span>drawing...</span></figcaption>`;
  $('panels').append(root);
  const canvas = (cls: string) => root.querySelector(`canvas.${cls}`) as HTMLCanvasElement;
  return { root, image: canvas('digit'), strip: canvas('strip'), caption: root.querySelector('span')! };
}

const LABELS: Record<string, string> = { none: 'full compute', fora: 'FORA', taylorseer: 'TaylorSeer', foca: 'FoCa', l2p: 'L2P' };

async function run(): Promise<void> {
  const { request, compare, backend: choice } = parseRequest(new URLSearchParams(location.search));
  const form = document.forms.namedItem('request')!;
  for (const [name, value] of Object.entries({ class: request.cls, seed: request.seed, interval: request.interval ?? 5, steps: request.steps ?? '' })) {
    (form.elements.namedItem(name) as HTMLInputElement).value = String(value);
  }
  const [bytes, l2p, opened] = await Promise.all([
    fetchBytes(`models/${request.model}.safetensors`),
    fetch(`models/${request.model}.l2p.json`).then((r) => (r.ok ? r.text() : null)),
    openBackend(choice),
  ]);
  $('backend').textContent = opened.description;
  const model = openPageModel(`${request.model}.safetensors`, bytes, opened.backend, l2p);
  if (l2p !== null) drawWeights($('weights') as HTMLCanvasElement, JSON.parse(l2p) as number[][]);
  else $('weights-box').hidden = true;

  const methods: SampleRequest['cache'][] = compare ? ['none', 'taylorseer', ...(l2p !== null ? ['l2p' as const] : [])] : [request.cache];
  let first: PageSample | null = null;
  for (const cache of methods) {
    const view = panel(LABELS[cache]);
    const sample = await drawSample(model, { ...request, cache, interval: cache === 'none' ? undefined : (request.interval ?? 5) });
    window.dittoFirstSampleMs ??= performance.now();
    drawImage(view.image, sample);
    drawSchedule(view.strip, sample.schedule);
    view.caption.textContent = `${(sample.ms / 1000).toFixed(2)} s · ${sample.forwards} model calls, ${sample.skipped} forecast` +
      (sample.skipped ? ` · ${(100 * sample.flopsSaved).toFixed(0)}% of FLOPs saved` : '');
    first ??= sample;
  }
  window.dittoResult = { width: first!.width, height: first!.height, pixels: Array.from(first!.pixels), ms: first!.ms, backend: opened.backend.name, adapter: opened.adapter };
}

run().catch((e: unknown) => {
  // A user's mistake is its message; anything else, its first line (the console has the stack).
  const line = String(e instanceof Error ? e.message : e).split('\n')[0];
  if (!(e instanceof UserError)) console.error(e);
  $('status').textContent = `error: ${line}`;
  window.dittoResult = { error: line };
});
