// The one interface every caching method implements.
//
// Every method here forecasts a skipped step's output as a fixed linear combination of outputs
// already in the history. So a predictor never touches a tensor: it is told which steps' outputs
// exist (and which of them the model computed), and for a step to forecast it answers with WEIGHTS
// on history entries. Whoever holds the outputs applies them: the cached sampling loop with one
// op.linearCombination on the CPU or the GPU (sampling.ts), `ditto predict` on host arrays (rollout.ts), the analyzer
// on exact fractions. One answer, three consumers, no duplicated formula.
//
// The history holds EVERY step's output, forecast ones included (L2P's official code appends its
// predictions to the history it predicts from; TaylorSeer and FoCa simply put no weight on them).

export interface Term {
  /** a history entry: the output of this step */
  step: number;
  weight: number;
}

export interface Predictor {
  /** e.g. "taylorseer order 2" */
  readonly name: string;
  /**
   * Step `step`'s output has joined the history; `full` says whether the model computed it (false:
   * it was forecast). Called once per step, in order, starting at step 0.
   */
  observe(step: number, full: boolean): void;
  /** The weights that forecast the output of `step` (the step after the last observed one). */
  forecast(step: number): Term[];
  /** The history entries a later forecast may still use, in any order; the caller may free all others. */
  live(): readonly number[];
}

/** Guard shared by the predictors: steps arrive in order, and a forecast is for the next step. */
export class StepOrder {
  next = 0;

  observe(step: number): void {
    if (step !== this.next) throw new Error(`predictor: observed step ${step}, expected step ${this.next}`);
    this.next++;
  }

  checkForecast(step: number): void {
    if (step !== this.next) throw new Error(`predictor: asked to forecast step ${step}, but the history ends at step ${this.next - 1}`);
    if (step === 0) throw new Error('predictor: step 0 cannot be forecast (the history is empty): every schedule computes it');
  }
}
