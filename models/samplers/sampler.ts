// The common shape of a sampler: a pure function of the step index that returns the time to call the
// model at and two scalars. Every update used here is linear in x and in the model output,
//
//   x_next = xCoef * x + outCoef * modelOut,
//
// so the loop needs only scale-and-add on whatever backend holds the tensors, and a predictor that
// forecasts modelOut (instead of calling the model) plugs into the same line unchanged.

/** One sampling step i (0-based, in calling order): the model is called at time modelTime(i); then x_next = xCoef * x + outCoef * modelOut (modelOut = eps for DDIM, the velocity for flow). */
export interface SamplerStep {
  modelTime: number;
  xCoef: number;
  outCoef: number;
}

export interface Sampler {
  readonly name: 'ddim' | 'euler-flow';
  readonly steps: number;
  step(i: number): SamplerStep;
  /** what the model predicts */
  readonly predicts: 'eps' | 'velocity';
}

/** Shared guard for step(i): an out-of-range index is a bug in the caller's loop, not a user mistake. */
export function checkStepIndex(i: number, steps: number): void {
  if (!Number.isInteger(i) || i < 0 || i >= steps) {
    throw new RangeError(`step index ${i} is outside 0..${steps - 1}`);
  }
}
