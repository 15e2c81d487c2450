// Rectified flow with an Euler sampler (FLUX-style).
//
// Forward process: x_t = (1 - t) x0 + t noise, t in [0, 1]; the model predicts the velocity
// v = dx_t/dt = noise - x0. Sampling integrates from t = 1 (pure noise) to t = 0 (data):
//
//   x_{t_next} = x_t + (t_next - t) v        so xCoef = 1, outCoef = t_next - t (negative).
//
// The times are linspace(1, 0, steps + 1), optionally shifted towards t = 1 (more steps spent at high
// noise, which larger images need):  t' = e^mu / (e^mu + 1/t - 1), t = 0 stays 0, with mu a line in the
// number of image tokens through (256, 0.5) and (4096, 1.15). The model is called with time t * 1000.
//
// Because x_t is linear in t, Euler with the exact velocity is exact: the sample lands on x0.

import { UserError } from '../../core/errors.js';
import { checkStepIndex, type Sampler, type SamplerStep } from './sampler.js';

interface FlowOptions {
  /** number of image tokens; when given, the times are shifted by mu = flowMu(shiftTokens) */
  shiftTokens?: number;
}

/** Shift parameter: the line through (256 tokens, 0.5) and (4096 tokens, 1.15). */
export function flowMu(tokens: number): number {
  return 0.5 + ((tokens - 256) * (1.15 - 0.5)) / (4096 - 256);
}

function checkSteps(steps: number): void {
  if (!Number.isInteger(steps) || steps < 1) {
    throw new UserError(`sampling steps must be a positive integer, got ${steps}`);
  }
}

/** steps + 1 times from 1 down to 0 (numpy.linspace semantics), shifted when shiftTokens is given. */
export function flowTimes(steps: number, opts: FlowOptions = {}): number[] {
  checkSteps(steps);
  const delta = (0 - 1) / steps;
  const ts: number[] = [];
  for (let i = 0; i <= steps; i++) ts.push(i * delta + 1);
  ts[steps] = 0; // linspace puts the endpoint exactly

  if (opts.shiftTokens === undefined) return ts;
  const tokens = opts.shiftTokens;
  if (!Number.isFinite(tokens) || tokens <= 0) {
    throw new UserError(`shift token count must be a positive number, got ${tokens}`);
  }
  const eMu = Math.exp(flowMu(tokens));
  // t = 0 would divide by zero; its limit is 0 (t = 1 maps to 1 by itself).
  return ts.map((t) => (t === 0 ? 0 : eMu / (eMu + (1 / t - 1))));
}

/** Euler steps along the flow from t = 1 to t = 0; the model predicts the velocity noise - x0. */
export function eulerFlow(steps: number, opts: FlowOptions = {}): Sampler {
  const ts = flowTimes(steps, opts);
  const table: SamplerStep[] = [];
  for (let i = 0; i < steps; i++) {
    table.push({ modelTime: ts[i]! * 1000, xCoef: 1, outCoef: ts[i + 1]! - ts[i]! });
  }
  return {
    name: 'euler-flow',
    steps,
    predicts: 'velocity',
    step(i: number): SamplerStep {
      checkStepIndex(i, steps);
      return { ...table[i]! };
    },
  };
}
