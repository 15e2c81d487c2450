// How close a cached run's images are to full compute's: the scores of the cache benchmark's table,
// and the objective the schedule search maximises (on calibration seeds there, evaluation seeds here).
//
// PSNR and SSIM are taken on the 8-bit images as a viewer sees them (the first channel: gray for
// MNIST), averaged over images; the relative L2 on the final samples before quantisation.

import { toImages, type Image8 } from '../models/image.js';
import { relativeL2 } from '../predictors/rollout.js';
import { psnr, ssim, type GrayImage } from './metrics.js';

/** Full compute's samples, the reference every run is scored against. */
export interface Reference {
  /** [N, ...] final samples */
  samples: Float32Array;
  shape: readonly number[];
  images: Image8[];
}

export interface Fidelity {
  psnr: number;
  ssim: number;
  rel_l2: number;
}

export function reference(samples: Float32Array, shape: readonly number[], dataRange: [number, number]): Reference {
  return { samples, shape, images: toImages(samples, shape, dataRange) };
}

function gray(img: Image8): GrayImage {
  return { width: img.width, height: img.height, data: img.data.filter((_, i) => i % img.channels === 0) };
}

const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;

/** Mean PSNR (dB) of a run's images against the reference's: the search's objective. */
export function meanPsnr(images: readonly Image8[], ref: Reference): number {
  return mean(images.map((img, i) => psnr(gray(img), gray(ref.images[i]!))));
}

/** Every score of the cache benchmark for one run's samples (same shape as the reference). */
export function fidelity(samples: Float32Array, images: readonly Image8[], ref: Reference): Fidelity {
  const n = ref.images.length, size = samples.length / n;
  return {
    psnr: meanPsnr(images, ref),
    ssim: mean(images.map((img, i) => ssim(gray(img), gray(ref.images[i]!)))),
    rel_l2: mean(ref.images.map((_, i) => relativeL2(samples.subarray(i * size, (i + 1) * size), ref.samples.subarray(i * size, (i + 1) * size)))),
  };
}
