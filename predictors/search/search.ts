// Which K of the S sampling steps should run the model: a search over schedules for one method.
//
// The space is every set of K steps that contains step 0: C(49, 10), about 8e9 sets, for K = 11 of
// 50, so no search samples them all, and a real evaluation (sampling calibration images with the cache
// and scoring them against full compute) takes seconds. So the search works in two stages:
//
//  1. On the proxy (proxy.ts: the open-loop error of the final sample, from the Gram matrix; about a
//     millisecond a candidate), it builds candidates by greedy removal (from all S steps full, drop the
//     step whose loss the proxy minds least, until K remain) and improves each start (the official
//     schedule, the greedy one) by swaps: move one full step to any skipped step, take the best move,
//     repeat until none helps. These local optima, and the starts, are the pool.
//  2. With real sampling it scores the official schedule first (the baseline), then the pool in proxy
//     order, then refines the best one found: its neighbours (one full step moved by 1 or 2 steps)
//     in proxy order, moving to the first that scores higher, until none does or the evaluation
//     budget is spent.
//
// The proxy orders the work; only real scores decide. Since the official schedule is scored first and
// the best real score wins, the result never scores below the official schedule on the calibration
// seeds. Everything is deterministic, so a search that was stopped and is run again asks for the same
// evaluations in the same order: the caller's log of finished evaluations makes it resumable.

/** A set of full steps, ascending, starting at 0. */
export type FullSteps = readonly number[];

export interface Evaluation {
  fullSteps: number[];
  /** the real score (higher is better: PSNR in dB against full compute) */
  score: number;
  /** the proxy's value (lower is better) */
  proxy: number;
}

export interface SearchOptions {
  steps: number;
  /** K: how many steps run the model */
  fullSteps: number;
  /** the proxy of a candidate (lower is better) */
  proxy(fullSteps: FullSteps): number;
  /** the real score of a candidate (higher is better) */
  evaluate(fullSteps: FullSteps): Promise<number>;
  /** the official schedule at this budget, if there is one: scored first */
  official?: FullSteps;
  /** how many real evaluations at most */
  evaluations: number;
  /** after each real evaluation */
  onEvaluation?(e: Evaluation, index: number, best: Evaluation): void;
  /** progress of the proxy stage */
  onProxyStage?(what: string): void;
}

export interface SearchResult {
  best: Evaluation;
  /** every real evaluation, in order */
  evaluations: Evaluation[];
  /** how many distinct candidates the proxy scored */
  proxyCandidates: number;
}

const key = (f: FullSteps) => f.join(',');

function checkBudget(steps: number, k: number, official?: FullSteps): void {
  if (!Number.isInteger(k) || k < 1 || k > steps) throw new RangeError(`search: ${k} full steps out of ${steps}`);
  if (official && official.length !== k) throw new RangeError(`search: the official schedule has ${official.length} full steps, not ${k}`);
}

/** Greedy removal on the proxy: from every step full down to k. */
export function greedyRemoval(steps: number, k: number, proxy: (f: FullSteps) => number): number[] {
  let current = Array.from({ length: steps }, (_, i) => i);
  while (current.length > k) {
    let best: number[] | null = null, bestValue = Infinity;
    for (let i = 1; i < current.length; i++) {
      const candidate = current.filter((_, j) => j !== i);
      const value = proxy(candidate);
      if (value < bestValue) [best, bestValue] = [candidate, value];
    }
    current = best ?? current.slice(0, -1);
  }
  return current;
}

/** `full` with its i-th step moved to step `to` (which must be skipped), kept ascending. */
function moved(full: FullSteps, i: number, to: number): number[] {
  return full.map((s, j) => (j === i ? to : s)).sort((a, b) => a - b);
}

/** Best-improvement swaps on the proxy until no move of one full step (never step 0) helps. */
export function swapDescent(start: FullSteps, steps: number, proxy: (f: FullSteps) => number): number[] {
  let current = [...start], value = proxy(current);
  for (;;) {
    let best: number[] | null = null, bestValue = value;
    const taken = new Set(current);
    for (let i = 1; i < current.length; i++) {
      for (let to = 1; to < steps; to++) {
        if (taken.has(to)) continue;
        const candidate = moved(current, i, to);
        const v = proxy(candidate);
        if (v < bestValue) [best, bestValue] = [candidate, v];
      }
    }
    if (!best) return current;
    [current, value] = [best, bestValue];
  }
}

/** One full step (never 0) moved by 1 or 2 steps, where that step is free. */
function neighbours(full: FullSteps, steps: number): number[][] {
  const taken = new Set(full);
  const out: number[][] = [];
  for (let i = 1; i < full.length; i++) {
    for (const d of [-2, -1, 1, 2]) {
      const to = full[i]! + d;
      if (to >= 1 && to < steps && !taken.has(to)) out.push(moved(full, i, to));
    }
  }
  return out;
}

export async function searchSchedule(o: SearchOptions): Promise<SearchResult> {
  checkBudget(o.steps, o.fullSteps, o.official);
  if (!Number.isInteger(o.evaluations) || o.evaluations < 1) throw new RangeError(`search: ${o.evaluations} evaluations`);
  const proxies = new Map<string, number>();
  const proxy = (f: FullSteps) => {
    const k = key(f);
    let v = proxies.get(k);
    if (v === undefined) proxies.set(k, (v = o.proxy(f)));
    return v;
  };

  o.onProxyStage?.('greedy removal');
  const greedy = greedyRemoval(o.steps, o.fullSteps, proxy);
  const starts = o.official ? [[...o.official], greedy] : [greedy];
  const optima = starts.map((s, i) => {
    o.onProxyStage?.(`swap descent from the ${i === 0 && o.official ? 'official' : 'greedy'} schedule`);
    return swapDescent(s, o.steps, proxy);
  });
  const pool = [...optima, ...starts].sort((a, b) => proxy(a) - proxy(b));

  const evaluations: Evaluation[] = [];
  const scored = new Map<string, Evaluation>();
  const state: { best: Evaluation | null } = { best: null };
  const evaluate = async (f: FullSteps): Promise<Evaluation | null> => {
    const seen = scored.get(key(f));
    if (seen) return seen;
    if (evaluations.length >= o.evaluations) return null;
    const e: Evaluation = { fullSteps: [...f], score: await o.evaluate(f), proxy: proxy(f) };
    evaluations.push(e);
    scored.set(key(f), e);
    if (!state.best || e.score > state.best.score) state.best = e;
    o.onEvaluation?.(e, evaluations.length - 1, state.best);
    return e;
  };

  if (o.official) await evaluate(o.official);
  for (const f of pool) await evaluate(f);
  // Refine the best: move to the first neighbour (in proxy order) that scores higher.
  for (;;) {
    const from = state.best!;
    const next = neighbours(from.fullSteps, o.steps).sort((a, b) => proxy(a) - proxy(b));
    let improved = false;
    for (const f of next) {
      const e = await evaluate(f);
      if (!e) break;
      if (e.score > from.score) {
        improved = true;
        break;
      }
    }
    if (!improved || evaluations.length >= o.evaluations) break;
  }
  return { best: state.best!, evaluations, proxyCandidates: proxies.size };
}
