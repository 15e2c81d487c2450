// What sampling needs of a model, whatever transformer is inside: a class-conditional denoiser of
// images [N, C, H, W]. The DiT is one directly (models/dit/dit.ts); a FLUX transformer becomes one
// through a table of class prompts that stands in for its text encoders (models/flux/class-model.ts).
// The sampling loop, calibration, the benchmarks and the demo see only this interface, so every
// caching method runs unchanged on every architecture.

import type { Backend } from '../core/backend.js';
import type { Tensor } from '../core/tensor.js';
import type { Architecture } from './architecture.js';

/** A model's sizes as sampling sees them: known from the checkpoint's header alone. */
export interface ModelInfo {
  architecture: Architecture;
  /** One sample [channels, height, width] (latents, or pixels for the bundled MNIST models). */
  channels: number;
  height: number;
  width: number;
  /** Labels 0..numClasses-1; numClasses itself is the null class of classifier-free guidance. */
  numClasses: number;
  /** Image tokens per sample: the sequence length FLUX's time shift is computed from. */
  imageTokens: number;
  heads: number;
  /** Multiply-accumulates of one forward per sample. */
  macsPerSample: number;
  /** Elements of the largest tensor one forward makes per batch row (what limits a chunk of images). */
  largestPerRow: number;
}

export interface ClassModel {
  readonly info: ModelInfo;
  readonly backend: Backend;
  /**
   * What the sampler steps with (eps or velocity), shaped like x [N, C, H, W], at per-row model times
   * t (the DDPM index, or 1000 t for flow models) and labels y. With `cfgScale`, x is [x; x] and y is
   * [y; null]: the guided prediction comes back for both halves.
   */
  predict(x: Tensor, t: readonly number[], y: readonly number[], cfgScale?: number): Tensor;
}
