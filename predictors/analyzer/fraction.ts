// Exact rational numbers on BigInt, for the analyzer: with them, "TaylorSeer's weights sum to 1" is a
// statement about integers, not a float comparison with a tolerance.
//
// A Fraction is always normalised: gcd(num, den) = 1 and den > 0, so equal numbers have equal
// fields and `equals` is a field comparison.

import type { Field } from '../field.js';

function gcd(a: bigint, b: bigint): bigint {
  if (a < 0n) a = -a;
  if (b < 0n) b = -b;
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

export class Fraction {
  readonly num: bigint;
  readonly den: bigint;

  constructor(num: bigint, den: bigint = 1n) {
    if (den === 0n) throw new RangeError('fraction with a zero denominator');
    if (den < 0n) {
      num = -num;
      den = -den;
    }
    const g = gcd(num, den);
    this.num = g > 1n ? num / g : num;
    this.den = g > 1n ? den / g : den;
  }

  static of(n: number, d = 1): Fraction {
    if (!Number.isSafeInteger(n) || !Number.isSafeInteger(d)) throw new RangeError(`Fraction.of needs integers, got ${n}/${d}`);
    return new Fraction(BigInt(n), BigInt(d));
  }

  add(o: Fraction): Fraction {
    return new Fraction(this.num * o.den + o.num * this.den, this.den * o.den);
  }

  sub(o: Fraction): Fraction {
    return new Fraction(this.num * o.den - o.num * this.den, this.den * o.den);
  }

  mul(o: Fraction): Fraction {
    return new Fraction(this.num * o.num, this.den * o.den);
  }

  div(o: Fraction): Fraction {
    if (o.num === 0n) throw new RangeError('division by zero');
    return new Fraction(this.num * o.den, this.den * o.num);
  }

  neg(): Fraction {
    return new Fraction(-this.num, this.den);
  }

  isZero(): boolean {
    return this.num === 0n;
  }

  equals(o: Fraction): boolean {
    return this.num === o.num && this.den === o.den;
  }

  /** The nearest float64 (within an ulp or two: both parts are rounded, then divided). */
  toNumber(): number {
    const n = Number(this.num), d = Number(this.den);
    if (Number.isFinite(n) && Number.isFinite(d)) return n / d;
    // Parts beyond float64's range: drop the same number of low bits from both first.
    const bits = Math.max(this.num.toString(2).length, this.den.toString(2).length);
    const shift = BigInt(bits - 1000);
    return Number(this.num >> shift) / Number(this.den >> shift);
  }

  /** "p/q", always with the slash (also for integers: "2/1"), so programs can split it. */
  toString(): string {
    return `${this.num}/${this.den}`;
  }

  /** "7/3", or "2" for integers: for tables people read. */
  toShortString(): string {
    return this.den === 1n ? `${this.num}` : `${this.num}/${this.den}`;
  }
}

export const fractions: Field<Fraction> = {
  name: 'fraction',
  fromInt: (n) => Fraction.of(n),
  add: (a, b) => a.add(b),
  sub: (a, b) => a.sub(b),
  mul: (a, b) => a.mul(b),
  div: (a, b) => a.div(b),
  isZero: (a) => a.isZero(),
  toNumber: (a) => a.toNumber(),
};
