// DDIM (eta = 0) on DiT's DDPM noise process.
//
// Forward process: x_t = sqrt(ab_t) x0 + sqrt(1 - ab_t) eps, with ab_t = prod_{s<=t} (1 - beta_s) and
// betas linear from 1e-4 to 0.02 over 1000 training steps.
//
// Sampling visits only S of the 1000 steps ("respacing"). At a kept step with alphabar a, and a_prev the
// alphabar of the next kept (smaller) step, or 1 after the last one, the model predicts eps and
//
//   x0     = sqrt(1/a) x - sqrt(1/a - 1) eps                (invert the forward process)
//   x_prev = sqrt(a_prev) x0 + sqrt(1 - a_prev) eps          (re-noise to the earlier step, no fresh noise)
//
// which is linear: x_prev = xCoef x + outCoef eps with
//   xCoef   = sqrt(a_prev) * sqrt(1/a)
//   outCoef = sqrt(1 - a_prev) - sqrt(a_prev) * sqrt(1/a - 1).
//
// Everything is float64 and follows the order of operations in DiT's gaussian_diffusion.py / respace.py,
// so the coefficients match the reference bit for bit (the tests check this).

import { UserError } from '../../core/errors.js';
import { checkStepIndex, type Sampler, type SamplerStep } from './sampler.js';

/** numpy.linspace semantics: step = (end - start) / (n - 1), value i = i * step + start, last = end exactly. */
function linspace(start: number, end: number, n: number): Float64Array {
  const out = new Float64Array(n);
  const step = n > 1 ? (end - start) / (n - 1) : 0;
  for (let i = 0; i < n; i++) out[i] = i * step + start;
  if (n > 1) out[n - 1] = end;
  return out;
}

/** DiT's "linear" schedule: betas from 1e-4 to 0.02 over 1000 steps. */
export function ddpmBetas(): Float64Array {
  return linspace(1e-4, 0.02, 1000);
}

/** alphabar_t = prod_{s<=t} (1 - beta_s), accumulated left to right like numpy.cumprod. */
export function alphasCumprod(betas: Float64Array): Float64Array {
  const out = new Float64Array(betas.length);
  let acc = 1;
  for (let i = 0; i < betas.length; i++) {
    acc *= 1 - betas[i]!;
    out[i] = acc;
  }
  return out;
}

/** Python 3's round(): ties go to the even neighbour (round(166.5) = 166, round(499.5) = 500). */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f; // exact for the magnitudes used here
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * DiT's space_timesteps(trainSteps, [steps]): the training steps kept, ascending.
 * The stride is accumulated in a float (not i * stride) and rounded half-to-even, exactly as the
 * Python loop does; both details change which steps are kept for some S (e.g. S = 21 keeps 499, S = 25 keeps 166).
 */
export function respacedTimesteps(steps: number, trainSteps = 1000): number[] {
  if (!Number.isInteger(steps) || steps < 1 || steps > trainSteps) {
    throw new UserError(`sampling steps must be an integer from 1 to ${trainSteps}, got ${steps}`);
  }
  const stride = steps <= 1 ? 1 : (trainSteps - 1) / (steps - 1);
  const kept = new Set<number>();
  let cur = 0.0;
  for (let k = 0; k < steps; k++) {
    kept.add(roundHalfEven(cur));
    cur += stride;
  }
  return [...kept].sort((a, b) => a - b);
}

/** DDIM with eta = 0 over `steps` respaced steps of DiT's 1000-step process. */
export function ddim(steps: number): Sampler {
  const timesteps = respacedTimesteps(steps); // validates steps
  const full = alphasCumprod(ddpmBetas());

  // DiT's SpacedDiffusion rebuilds betas for the kept steps (1 - ab_t / ab_prevKept) and takes their
  // cumprod again. That telescopes back to ab_t, but not bit-for-bit (for S = 2 the last value moves in
  // the 13th digit), so we do the same arithmetic to match the reference.
  const spacedBetas = new Float64Array(timesteps.length);
  let last = 1.0;
  timesteps.forEach((t, k) => {
    spacedBetas[k] = 1 - full[t]! / last;
    last = full[t]!;
  });
  const ab = alphasCumprod(spacedBetas);

  // Precompute in calling order: the model runs from the noisiest kept step (largest t) down to 0.
  const table: SamplerStep[] = [];
  for (let k = timesteps.length - 1; k >= 0; k--) {
    const a = ab[k]!;
    const aPrev = k > 0 ? ab[k - 1]! : 1.0;
    const sqrtRecip = Math.sqrt(1.0 / a);
    const sqrtRecipM1 = Math.sqrt(1.0 / a - 1);
    table.push({
      modelTime: timesteps[k]!, // the model sees the original 0..999 index, not k
      xCoef: Math.sqrt(aPrev) * sqrtRecip,
      outCoef: Math.sqrt(1 - aPrev) - Math.sqrt(aPrev) * sqrtRecipM1,
    });
  }

  return {
    name: 'ddim',
    steps: table.length,
    predicts: 'eps',
    step(i: number): SamplerStep {
      checkStepIndex(i, table.length);
      return { ...table[i]! };
    },
  };
}
