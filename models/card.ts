// A model card: how to sample from a checkpoint, read off its safetensors __metadata__ (sampler, steps,
// guidance scale, time shift, data range), each setting checked. Finding checkpoints on disk is
// models/pretrained.ts's; this file needs only the metadata, so a web page builds its card from the
// fetched bytes the same way.

import { UserError } from '../core/errors.js';
import type { Architecture } from './architecture.js';
import type { ClassModel } from './class-model.js';
import { ddim } from './samplers/ddim.js';
import { eulerFlow } from './samplers/flow.js';
import type { Sampler } from './samplers/sampler.js';

export interface ModelCard {
  path: string;
  architecture: Architecture;
  sampler: 'euler-flow' | 'ddim';
  steps: number;
  cfgScale: number;
  /** FLUX's resolution-dependent time shift for flow models (time_shift "flux"), or none ("none"). */
  timeShift: boolean;
  /** The pixel range the model was trained on; null for latent models (they need a VAE to make images). */
  dataRange: [number, number] | null;
  /** The L2P weights calibrated for this model (W.json beside it), if present. */
  l2pWeights: string | null;
}

export interface OpenedModel {
  model: ClassModel;
  card: ModelCard;
}

/** DDIM respaces DiT's 1000 training steps, so it can take at most that many. */
const DDIM_MAX_STEPS = 1000;
/** The bound on sampling steps: far past any useful count, short of a run that would never end. */
const MAX_STEPS = 10_000;

/** The most sampling steps a model card's sampler takes (metadata and --steps alike). */
export function maxSteps(sampler: ModelCard['sampler']): number {
  return sampler === 'ddim' ? DDIM_MAX_STEPS : MAX_STEPS;
}

/** A decimal number as people and Python's str() write them; Number() would also take "", " ", "0x10" and "Infinity". */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function decimal(value: string): number | undefined {
  const n = DECIMAL.test(value) ? Number(value) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

/**
 * The sampling settings of a checkpoint's __metadata__, each checked: a card that cannot be sampled
 * as written is refused here, naming the key, rather than failing (or running for ever) later.
 */
export function cardSettings(file: string, m: Record<string, string>): Omit<ModelCard, 'path' | 'architecture' | 'l2pWeights'> {
  const bad = (key: string, expected: string) =>
    new UserError(`${file}: __metadata__.${key} is ${JSON.stringify(m[key])}, expected ${expected}: fix the checkpoint's metadata`);
  const sampler = m.sampler ?? 'ddim';
  if (sampler !== 'euler-flow' && sampler !== 'ddim') throw bad('sampler', 'euler-flow or ddim');
  const limit = maxSteps(sampler);
  let steps = 50;
  if (m.steps !== undefined) {
    steps = /^[1-9][0-9]*$/.test(m.steps) ? Number(m.steps) : NaN;
    if (!(steps <= limit)) throw bad('steps', `an integer from 1 to ${limit}${sampler === 'ddim' ? ' (DDIM respaces 1000 steps)' : ''}`);
  }
  let cfgScale = 4;
  if (m.cfg_scale !== undefined) {
    const n = decimal(m.cfg_scale);
    // As for --cfg: 1 turns guidance off, and ditto's samplers run no scale below it.
    if (n === undefined || n < 1) throw bad('cfg_scale', 'a finite number of at least 1');
    cfgScale = n;
  }
  const shift = m.time_shift ?? 'none';
  if (shift !== 'none' && shift !== 'flux') throw bad('time_shift', 'none or flux');
  let dataRange: [number, number] | null = null;
  if (m.data_range !== undefined) {
    const r = /^\[\s*([^\s,]+)\s*,\s*([^\s\]]+)\s*\]$/.exec(m.data_range);
    const lo = r ? decimal(r[1]) : undefined, hi = r ? decimal(r[2]) : undefined;
    if (lo === undefined || hi === undefined || !(lo < hi)) throw bad('data_range', '"[lo,hi]" with finite lo < hi');
    dataRange = [lo, hi];
  }
  return { sampler, steps, cfgScale, timeShift: shift === 'flux', dataRange };
}

/** The model card's sampler over `steps` steps. */
export function samplerFor(card: ModelCard, model: ClassModel, steps: number): Sampler {
  return card.sampler === 'ddim' ? ddim(steps) : eulerFlow(steps, card.timeShift ? { shiftTokens: model.info.imageTokens } : {});
}
