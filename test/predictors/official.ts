// Independent, literal implementations of each caching method's OFFICIAL semantics on arrays, for
// the tests to compare the weights route against. They are written the way the official Python code
// runs (state dicts of tensors, updated at full steps, read at cached ones) and share no code with
// predictors/: if both agree, the weights are right.

import { maxRelErr } from '../../core/accuracy.js';

/** One method's state in the official style: told each full step's output, asked for cached ones. */
export interface OfficialCache {
  full(step: number, output: Float64Array): void;
  /** the forecast of a skipped step; L2P also appends it to its history, as the official code does */
  cached(step: number): Float64Array;
}

const axpy = (acc: Float64Array, a: number, x: ArrayLike<number>) => {
  for (let i = 0; i < acc.length; i++) acc[i] += a * x[i]!;
};

/** FORA: reuse the last computed output. */
export class OfficialFora implements OfficialCache {
  private last: Float64Array | null = null;
  full(_step: number, output: Float64Array): void {
    this.last = output;
  }
  cached(): Float64Array {
    return Float64Array.from(this.last!);
  }
}

/**
 * TaylorSeer's taylor_utils (FLUX variant, first_enhance = 3), transcribed: activated_steps starts at
 * [0]; at a full step the step is appended, D0 = feature and D(i+1) = (D(i) - cache[i]) / distance
 * while cache has level i and step > first_enhance - 2; taylor_formula sums cache[i] x^i / i!.
 */
export class OfficialTaylorSeer implements OfficialCache {
  private cache = new Map<number, Float64Array>();
  private activated = [0];
  private readonly firstEnhance = 3;
  constructor(private readonly maxOrder: number) {}

  full(step: number, feature: Float64Array): void {
    this.activated.push(step);
    const distance = this.activated[this.activated.length - 1]! - this.activated[this.activated.length - 2]!;
    const updated = new Map<number, Float64Array>([[0, feature]]);
    for (let i = 0; i < this.maxOrder; i++) {
      if (this.cache.has(i) && step > this.firstEnhance - 2) {
        const prev = this.cache.get(i)!, cur = updated.get(i)!;
        updated.set(i + 1, cur.map((v, k) => (v - prev[k]!) / distance));
      } else {
        break;
      }
    }
    this.cache = updated;
  }

  cached(step: number): Float64Array {
    const x = step - this.activated[this.activated.length - 1]!;
    const out = new Float64Array(this.cache.get(0)!.length);
    let fact = 1;
    for (let i = 0; i < this.cache.size; i++) {
      if (i > 0) fact *= i;
      axpy(out, (1 / fact) * x ** i, this.cache.get(i)!);
    }
    return out;
  }
}

/**
 * FoCa's BDF2 forecast done the long way on arrays: the three-point slope at the last anchor, then
 * the variable-step BDF2 update towards the target. Two anchors: linear extrapolation; one: reuse.
 */
export class OfficialFoca implements OfficialCache {
  private anchors: { step: number; out: Float64Array }[] = [];
  full(step: number, output: Float64Array): void {
    this.anchors = [{ step, out: output }, ...this.anchors].slice(0, 3);
  }
  cached(step: number): Float64Array {
    const [a, b, c] = this.anchors;
    const n = a!.out.length;
    if (!b) return Float64Array.from(a!.out);
    const h = step - a!.step, h1 = a!.step - b.step;
    const slope = new Float64Array(n);
    if (!c) {
      for (let i = 0; i < n; i++) slope[i] = (a!.out[i]! - b.out[i]!) / h1;
      return a!.out.map((v, i) => v + h * slope[i]!);
    }
    const h2 = b.step - c.step;
    for (let i = 0; i < n; i++) {
      // derivative at t of the parabola through the three anchors
      slope[i] = ((2 * h1 + h2) / (h1 * (h1 + h2))) * a!.out[i]! - ((h1 + h2) / (h1 * h2)) * b.out[i]! + (h1 / (h2 * (h1 + h2))) * c.out[i]!;
    }
    const w = h / h1;
    return a!.out.map((v, i) => ((1 + w) ** 2 / (1 + 2 * w)) * v - (w * w / (1 + 2 * w)) * b.out[i]! + ((h * (1 + w)) / (1 + 2 * w)) * slope[i]!);
  }
}

/**
 * L2P's learnable_utils: every output is appended to the history x (forecasts too);
 * predict_with_learnable computes weight[T-1][:T] @ cat(x) for the T entries held.
 */
export class OfficialL2P implements OfficialCache {
  private x: Float64Array[] = [];
  constructor(private readonly weight: number[][]) {}
  full(_step: number, output: Float64Array): void {
    this.x.push(output);
  }
  cached(): Float64Array {
    const T = this.x.length;
    const row = this.weight[T - 1]!.slice(0, T);
    const pred = new Float64Array(this.x[0]!.length);
    row.forEach((w, j) => axpy(pred, w, this.x[j]!));
    // the official code stores its prediction in float32 (from the model's dtype): keep f32 values
    const stored = Float64Array.from(Float32Array.from(pred));
    this.x.push(stored);
    return stored;
  }
}

/** The official loop over a saved trajectory: full steps read the features, the others are forecast. */
export function officialRollout(cache: OfficialCache, features: readonly ArrayLike<number>[], isFull: (s: number) => boolean): Float64Array[] {
  return features.map((f, s) => {
    if (isFull(s)) {
      const out = Float64Array.from(f);
      cache.full(s, out);
      return out;
    }
    return cache.cached(s);
  });
}

/** Deterministic smooth-ish trajectories: a few low-frequency curves per element plus a little noise. */
export function smoothFeatures(steps: number, size: number, seed: number): Float32Array[] {
  let s = seed >>> 0 || 1;
  const u = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296 - 0.5;
  };
  const coef = Array.from({ length: size }, () => [u(), u(), u(), u() * 6, u()]);
  return Array.from({ length: steps }, (_, t) => {
    const x = t / steps;
    return Float32Array.from(coef, ([a, b, c, p]) => a! * Math.cos(3 * x + p!) + b! * x * x + c! * Math.sin(7 * x) + 0.01 * u());
  });
}

/** core/accuracy.ts's maxRelErr over all steps at once. */
export function maxRelError(a: readonly ArrayLike<number>[], b: readonly ArrayLike<number>[]): number {
  return maxRelErr(a.flatMap((x) => Array.from(x)), b.flatMap((y) => Array.from(y)));
}

/** A random lower-triangular W whose rows roughly sum to 1 (a plausible learned matrix). */
export function randomLowerTriangular(n: number, seed: number): number[][] {
  let s = seed >>> 0 || 1;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0), s / 4294967296 - 0.5);
  return Array.from({ length: n }, (_, r) => {
    const row = Array.from({ length: n }, (_, j) => (j <= r ? 0.3 * u() : 0));
    row[r]! += 1;
    if (r > 0) row[r - 1]! -= 0.2;
    return row;
  });
}
