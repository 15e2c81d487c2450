// FORA (Selvaraju et al. 2024), reduced to the final output: a skipped step reuses the output of the
// last full step. As a linear predictor: weight 1 on the last anchor. It is also the starting point
// of L2P's training (W = identity).

import { StepOrder, type Predictor, type Term } from './predictor.js';

export class ForaPredictor implements Predictor {
  readonly name = 'fora';
  private order = new StepOrder();
  private lastFull = -1;

  observe(step: number, full: boolean): void {
    this.order.observe(step);
    if (full) this.lastFull = step;
  }

  forecast(step: number): Term[] {
    this.order.checkForecast(step);
    if (this.lastFull < 0) throw new Error('fora: no full step yet');
    return [{ step: this.lastFull, weight: 1 }];
  }

  live(): readonly number[] {
    return this.lastFull < 0 ? [] : [this.lastFull];
  }
}
