// What the page runs, free of the DOM and of Node: a bundled model opened from fetched bytes, the
// backend the platform offers, and one sample drawn exactly as `ditto sample` draws it (the same seeded
// noise, schedule, predictor and sampling loop: predictors/pipeline.ts), so that a page and the command
// line give the same image for the same arguments. web/main.ts puts it on the page; tests run it in
// Node too (test/web/engine.test.ts), where the same code must give `ditto sample`'s images.

import type { Backend } from '../core/backend.js';
import { CpuBackend } from '../core/cpu/backend.js';
import { UserError } from '../core/errors.js';
import { SafetensorsFile } from '../core/safetensors.js';
import { createWebGpuBackend } from '../core/webgpu/index.js';
import { architectureOf } from '../models/architecture.js';
import { cardSettings, maxSteps, type ModelCard, type OpenedModel } from '../models/card.js';
import { DiT } from '../models/dit/dit.js';
import { loadDiTFrom } from '../models/dit/weights.js';
import { loadFluxClassModel } from '../models/flux/class-model.js';
import { toImages } from '../models/image.js';
import { defaultScheduleKind, parseMethod, planMethod, resolveSchedule, type Method } from '../predictors/methods.js';
import { parseWeights } from '../predictors/l2p.js';
import { generate } from '../predictors/pipeline.js';
import { fullSchedule, type Schedule } from '../predictors/schedule.js';

/** The bundled models the page can fetch, by the names `--model` takes. */
export const PAGE_MODELS = ['mnist-dit', 'mnist-flux'] as const;

/** What to draw: the query parameters of the page, as `ditto sample` flags. */
export interface SampleRequest {
  model: string;
  cls: number;
  seed: number;
  /** Default: the model card's. */
  steps?: number;
  cfg?: number;
  cache: 'none' | Method;
  /** The schedule's interval when cache is not none (default 5, as `ditto sample`). */
  interval?: number;
}

export interface PageBackend {
  backend: Backend;
  /** The line the page shows: which backend and, for WebGPU, which adapter; for the CPU, why. */
  description: string;
  adapter: string | null;
}

/**
 * WebGPU where the platform has an adapter, else the CPU backend, with the reason. `choice` forces one
 * ('webgpu' fails without an adapter), as `--backend` does.
 */
export async function openBackend(choice: 'auto' | 'cpu' | 'webgpu' = 'auto'): Promise<PageBackend> {
  if (choice !== 'cpu') {
    const gpu = await createWebGpuBackend();
    if (gpu.backend) return { backend: gpu.backend, description: `webgpu on ${gpu.backend.describe()}`, adapter: gpu.backend.describe() };
    if (choice === 'webgpu') throw new UserError(`backend=webgpu: no WebGPU adapter (${gpu.reason})`);
    return { backend: new CpuBackend(), description: `cpu, single-threaded (no WebGPU: ${gpu.reason})`, adapter: null };
  }
  return { backend: new CpuBackend(), description: 'cpu, single-threaded (backend=cpu)', adapter: null };
}

/** A model read from its fetched safetensors bytes, and its L2P matrix (the .l2p.json beside it), if any. */
export interface PageModel {
  opened: OpenedModel;
  /** Parsed per request, against its step count, as `ditto sample` reads --weights. */
  l2pJson: string | null;
}

/**
 * Reads a class-conditional checkpoint (a DiT, or FLUX with class prompts) from memory with the same
 * strict reader and checks as a file on disk.
 */
export function openPageModel(name: string, bytes: Uint8Array, backend: Backend, l2pJson: string | null): PageModel {
  const file = SafetensorsFile.fromBytes(name, bytes);
  try {
    const architecture = architectureOf(file.tensors.keys());
    if (architecture === 'qwen-image') throw new UserError(`${name} is a Qwen-Image checkpoint: the page samples class-conditional DiT and FLUX models`);
    const card: ModelCard = { path: name, architecture, ...cardSettings(name, file.metadata), l2pWeights: null };
    if (architecture === 'flux') return { opened: { model: loadFluxClassModel(file, backend), card }, l2pJson };
    const { config, weights } = loadDiTFrom(file, backend);
    return { opened: { model: new DiT(config, weights), card }, l2pJson };
  } finally {
    file.close();
  }
}

/** The schedule and predictor of a request, as `ditto sample --cache M --interval N` builds them. */
export function cachePlan(request: SampleRequest, steps: number, model: PageModel) {
  if (request.cache === 'none') {
    if (request.interval !== undefined) throw new UserError('interval configures a forecasting cache: add cache=taylorseer (or leave interval out)');
    return { schedule: fullSchedule(steps), predictor: undefined };
  }
  const method = parseMethod(request.cache);
  const schedule = resolveSchedule({ steps, interval: request.interval ?? 5 }, defaultScheduleKind(method));
  if (method !== 'l2p') return planMethod(method, steps, { schedule });
  const source = `${model.opened.card.path.replace(/\.safetensors$/, '')}.l2p.json`;
  if (model.l2pJson === null) throw new UserError(`l2p needs a weight matrix and ${model.opened.card.path} has none beside it`);
  return planMethod(method, steps, { schedule, weights: parseWeights(model.l2pJson, source, steps), weightsSource: source });
}

export interface PageSample {
  width: number;
  height: number;
  /** 8-bit gray, row-major. */
  pixels: Uint8Array;
  /** Wall time of the sampling, in milliseconds. */
  ms: number;
  schedule: Schedule;
  /** Model calls made and forecast, and the share of the model's FLOPs saved (net of the predictor's). */
  forwards: number;
  skipped: number;
  flopsSaved: number;
}

/** One image for `request`: the same image `ditto sample` writes for the same arguments. */
export async function drawSample(model: PageModel, request: SampleRequest): Promise<PageSample> {
  const { card, model: dit } = model.opened;
  if (!Number.isInteger(request.cls) || request.cls < 0 || request.cls >= dit.info.numClasses) {
    throw new UserError(`class=${request.cls}: give an integer from 0 to ${dit.info.numClasses - 1}`);
  }
  if (!Number.isInteger(request.seed) || request.seed < 0 || request.seed > 0xffffffff) throw new UserError(`seed=${request.seed}: give an integer from 0 to ${0xffffffff}`);
  const steps = request.steps ?? card.steps;
  if (!Number.isInteger(steps) || steps < 1 || steps > maxSteps(card.sampler)) throw new UserError(`steps=${request.steps}: give an integer from 1 to ${maxSteps(card.sampler)}`);
  const cfgScale = request.cfg ?? card.cfgScale;
  if (!(Number.isFinite(cfgScale) && cfgScale >= 1)) throw new UserError(`cfg=${request.cfg}: give a number of at least 1 (1 turns guidance off)`);
  const plan = cachePlan(request, steps, model);
  const start = performance.now();
  const result = await generate({ model: model.opened, classes: [request.cls], seeds: [request.seed], steps, cfgScale, ...plan });
  const ms = performance.now() - start;
  const [image] = toImages(result.samples, result.shape, card.dataRange ?? [-1, 1]);
  const f = result.stats.flops;
  return {
    width: image.width, height: image.height, pixels: image.data, ms, schedule: plan.schedule,
    forwards: result.stats.forwards, skipped: result.stats.skipped, flopsSaved: 1 - (f.model + f.predictor) / (f.model + f.saved),
  };
}
