// A checkpoint plus what it takes to sample from it: the model card. ditto bundles one trained model
// (assets/mnist-dit.safetensors, made by tools/train_mnist.py), the default of every sampling command.
// Its sampler, step count, guidance scale and data range travel in the safetensors __metadata__; a
// checkpoint without them (an official DiT) gets DiT's own defaults: DDIM and guidance scale 4.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Backend } from '../core/backend.js';
import { UserError } from '../core/errors.js';
import { requireRegularFile } from '../core/files.js';
import { tokens, type DiTConfig } from './dit/config.js';
import { DiT } from './dit/dit.js';
import { inspectDiT, loadDiT } from './dit/weights.js';
import { ddim } from './samplers/ddim.js';
import { eulerFlow } from './samplers/flow.js';
import type { Sampler } from './samplers/sampler.js';

export const BUNDLED_MODEL = fileURLToPath(new URL('../../assets/mnist-dit.safetensors', import.meta.url));

export interface ModelCard {
  path: string;
  sampler: 'euler-flow' | 'ddim';
  steps: number;
  cfgScale: number;
  /** FLUX's resolution-dependent time shift for flow models, or none. */
  timeShift: boolean;
  /** The pixel range the model was trained on; null for latent models (they need a VAE to make images). */
  dataRange: [number, number] | null;
  /** The L2P weights calibrated for this model (W.json beside it), if present. */
  l2pWeights: string | null;
}

export interface OpenedModel {
  dit: DiT;
  card: ModelCard;
}

function numberOr(value: string | undefined, fallback: number, key: string, path: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new UserError(`${path}: __metadata__.${key} is "${value}", not a number`);
  return n;
}

/**
 * A checkpoint's model card and config from its header alone: what a command checks its flags
 * against before it opens a device.
 */
export function inspectModel(path: string | undefined, opts: { heads?: number } = {}): { card: ModelCard; config: DiTConfig } {
  const file = path ?? BUNDLED_MODEL;
  if (path === undefined && !existsSync(file)) throw new UserError(`the bundled model ${file} is missing: reinstall ditto, or pass --model M.safetensors`);
  requireRegularFile(file, 'model file');
  const { config, metadata: m } = inspectDiT(file, opts);
  const sampler = m.sampler ?? 'ddim';
  if (sampler !== 'euler-flow' && sampler !== 'ddim') throw new UserError(`${file}: __metadata__.sampler is "${sampler}": ditto knows euler-flow and ddim`);
  let dataRange: [number, number] | null = null;
  if (m.data_range !== undefined) {
    const r = /^\[\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*\]$/.exec(m.data_range);
    if (!r) throw new UserError(`${file}: __metadata__.data_range is "${m.data_range}", expected "[lo,hi]"`);
    dataRange = [Number(r[1]), Number(r[2])];
  }
  const weightsPath = file.replace(/\.safetensors$/, '.l2p.json');
  const card: ModelCard = {
    path: file,
    sampler,
    steps: numberOr(m.steps, 50, 'steps', file),
    cfgScale: numberOr(m.cfg_scale, 4, 'cfg_scale', file),
    timeShift: m.time_shift !== undefined && m.time_shift !== 'none',
    dataRange,
    l2pWeights: weightsPath !== file && existsSync(weightsPath) ? weightsPath : null,
  };
  return { card, config };
}

/** The checkpoint loaded onto `backend`, with its model card (see inspectModel). */
export function openModel(path: string | undefined, backend: Backend, opts: { heads?: number } = {}): OpenedModel {
  const { card } = inspectModel(path, opts);
  const { config, weights } = loadDiT(card.path, backend, opts);
  return { dit: new DiT(config, weights), card };
}

/** The model card's sampler over `steps` steps. */
export function samplerFor(card: ModelCard, dit: DiT, steps: number): Sampler {
  return card.sampler === 'ddim' ? ddim(steps) : eulerFlow(steps, card.timeShift ? { shiftTokens: tokens(dit.config) } : {});
}
