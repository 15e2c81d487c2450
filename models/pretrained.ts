// A checkpoint plus what it takes to sample from it: the model card. ditto bundles two trained models,
// a DiT (assets/mnist-dit.safetensors, made by tools/train_mnist.py, the default of every sampling
// command) and a FLUX-architecture MMDiT (assets/mnist-flux.safetensors, tools/train_mnist_flux.py).
// Its sampler, step count, guidance scale, time shift and data range travel in the safetensors
// __metadata__, each checked when the card is read; a checkpoint without them (an official DiT) gets
// DiT's own defaults: DDIM, 50 steps and guidance scale 4.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Backend } from '../core/backend.js';
import { openCheckpoint } from '../core/checkpoint.js';
import { UserError } from '../core/errors.js';
import { requireRegularFile } from '../core/files.js';
import { checkpointArchitecture, type Architecture } from './architecture.js';
import type { ModelInfo } from './class-model.js';
import { ditInfo } from './dit/config.js';
import { DiT } from './dit/dit.js';
import { inspectDiT, loadDiT } from './dit/weights.js';
import { classModelInfo, loadFluxClassModel } from './flux/class-model.js';
import { inspectFlux } from './flux/weights.js';
import { cardSettings, type ModelCard, type OpenedModel } from './card.js';

export { maxSteps, samplerFor, type ModelCard, type OpenedModel } from './card.js';

export const BUNDLED_MODEL = fileURLToPath(new URL('../../assets/mnist-dit.safetensors', import.meta.url));
export const BUNDLED_FLUX_MODEL = fileURLToPath(new URL('../../assets/mnist-flux.safetensors', import.meta.url));

/** The bundled models by name: `--model mnist-flux` works from any folder. */
const BUNDLED_NAMES: Record<string, string> = { 'mnist-dit': BUNDLED_MODEL, 'mnist-flux': BUNDLED_FLUX_MODEL };

/** A --model value: a bundled model's name (unless a file of that name exists here), else a path. */
export function resolveModelPath(value: string | undefined): string | undefined {
  return value !== undefined && value in BUNDLED_NAMES && !existsSync(value) ? BUNDLED_NAMES[value] : value;
}

/** The sizes sampling needs, from the checkpoint's header; a FLUX checkpoint must carry class prompts. */
function inspectInfo(file: string, architecture: Architecture, opts: { heads?: number }): { info: ModelInfo; metadata: Record<string, string> } {
  if (architecture === 'flux') {
    const h = inspectFlux(file);
    return { info: classModelInfo(file, h), metadata: h.metadata };
  }
  if (architecture === 'qwen-image') throw new UserError(`${file} is a Qwen-Image transformer: ditto samples class-conditional DiT and FLUX models; run one forward with \`ditto forward\``);
  const { config, metadata } = inspectDiT(file, opts);
  return { info: ditInfo(config), metadata };
}

/**
 * A checkpoint's model card and sizes from its header alone: what a command checks its flags
 * against before it opens a device.
 */
export function inspectModel(path: string | undefined, opts: { heads?: number } = {}): { card: ModelCard; info: ModelInfo } {
  const file = path ?? BUNDLED_MODEL;
  if (path === undefined && !existsSync(file)) throw new UserError(`the bundled model ${file} is missing: reinstall ditto, or pass --model M.safetensors`);
  requireRegularFile(file, 'model file');
  const architecture = checkpointArchitecture(file);
  if (architecture !== 'dit' && opts.heads !== undefined) throw new UserError(`--heads applies to DiT checkpoints; ${file} is a ${architecture === 'flux' ? 'FLUX' : 'Qwen-Image'} transformer, whose heads are read off its q/k norms: drop --heads`);
  const { info, metadata } = inspectInfo(file, architecture, opts);
  const weightsPath = file.replace(/\.(safetensors|pt|pth)$/, '.l2p.json');
  const card: ModelCard = {
    path: file,
    architecture,
    ...cardSettings(file, metadata),
    l2pWeights: weightsPath !== file && existsSync(weightsPath) ? weightsPath : null,
  };
  return { card, info };
}

/** The checkpoint loaded onto `backend`, with its model card (see inspectModel). */
export function openModel(path: string | undefined, backend: Backend, opts: { heads?: number } = {}): OpenedModel {
  return loadModel(inspectModel(path, opts).card, backend, opts);
}

/** The weights of a model whose card a command has already inspected, loaded onto `backend`. */
export function loadModel(card: ModelCard, backend: Backend, opts: { heads?: number } = {}): OpenedModel {
  if (card.architecture === 'flux') {
    const file = openCheckpoint(card.path);
    try {
      return { model: loadFluxClassModel(file, backend), card };
    } finally {
      file.close();
    }
  }
  const { config, weights } = loadDiT(card.path, backend, opts);
  return { model: new DiT(config, weights), card };
}
