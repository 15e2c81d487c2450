// The arithmetic every forecasting formula here is written in: a number field, and linear
// combinations of history entries over it.
//
// Every caching method in this folder forecasts the model's output on a skipped step as a LINEAR
// combination of outputs it has already seen. So instead of running a formula on tensors, we run it
// on coefficient vectors ("F(9) counts 7/3, F(4) counts -5/3, ...") and hand the weights to whoever
// holds the tensors. Writing the formulas over a small Field interface lets the very same code run in
// float64 (the predictors) and in exact BigInt fractions (the analyzer, analyzer/fraction.ts), so
// the identities the analyzer proves are identities of the code that samples, not of a copy of it.

/** The operations the formulas need. `fromInt` takes a JS integer (a step index, a factorial). */
export interface Field<T> {
  readonly name: string;
  fromInt(n: number): T;
  add(a: T, b: T): T;
  sub(a: T, b: T): T;
  mul(a: T, b: T): T;
  div(a: T, b: T): T;
  isZero(a: T): boolean;
  toNumber(a: T): number;
}

/** Ordinary float64 arithmetic. */
export const float64: Field<number> = {
  name: 'float64',
  fromInt: (n) => n,
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  isZero: (a) => a === 0,
  toNumber: (a) => a,
};

/**
 * A linear combination of history entries: step index -> weight. `F(s)` itself is the combination
 * {s: 1}. Steps are kept in insertion order; `sortedTerms` gives them ascending.
 */
export type Combination<T> = Map<number, T>;

export function unit<T>(f: Field<T>, step: number): Combination<T> {
  return new Map([[step, f.fromInt(1)]]);
}

/** a + scale * b. */
export function axpy<T>(f: Field<T>, a: Combination<T>, scale: T, b: Combination<T>): Combination<T> {
  const out = new Map(a);
  for (const [step, w] of b) {
    const prev = out.get(step);
    out.set(step, prev === undefined ? f.mul(scale, w) : f.add(prev, f.mul(scale, w)));
  }
  return out;
}

function scaled<T>(f: Field<T>, a: Combination<T>, scale: T): Combination<T> {
  const out = new Map<number, T>();
  for (const [step, w] of a) out.set(step, f.mul(scale, w));
  return out;
}

/** (a - b) / d, the shape of every finite difference. */
export function difference<T>(f: Field<T>, a: Combination<T>, b: Combination<T>, d: T): Combination<T> {
  return scaled(f, axpy(f, a, f.fromInt(-1), b), f.div(f.fromInt(1), d));
}

/** The terms in ascending step order, exact zeros dropped. */
export function sortedTerms<T>(f: Field<T>, a: Combination<T>): { step: number; weight: T }[] {
  return [...a]
    .filter(([, w]) => !f.isZero(w))
    .sort(([x], [y]) => x - y)
    .map(([step, weight]) => ({ step, weight }));
}

export function factorial<T>(f: Field<T>, n: number): T {
  let acc = f.fromInt(1);
  for (let i = 2; i <= n; i++) acc = f.mul(acc, f.fromInt(i));
  return acc;
}

export function power<T>(f: Field<T>, x: T, n: number): T {
  let acc = f.fromInt(1);
  for (let i = 0; i < n; i++) acc = f.mul(acc, x);
  return acc;
}
