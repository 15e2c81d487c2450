// The analyzer's findings as tables a person reads (and the README's theory section quotes), and as
// plain data for --json.

import { formatTable } from '../../core/table.js';
import type { Combination } from '../field.js';
import { focaWeights } from '../foca.js';
import type { EffectiveStep } from './effective.js';
import type { FidelityReport } from './fidelity.js';
import { Fraction, fractions as Q } from './fraction.js';
import { anchorsFor, EVEN_GAP, ORDERS, taylorSeerExact, UNEVEN_ANCHORS, weightRow, type Check } from './identities.js';
import { newtonWeights } from './newton.js';

interface ExactWeight {
  step: number;
  /** "p/q" */
  exact: string;
  value: number;
}

/** Weights in the given anchor order (most recent first), as the CLI's JSON prints them. */
export function exactWeights(w: Combination<Fraction>, anchors: readonly number[]): ExactWeight[] {
  return anchors.map((step) => {
    const v = w.get(step) ?? Fraction.of(0);
    return { step, exact: v.toString(), value: v.toNumber() };
  });
}

const short = (ws: readonly Fraction[]) => `(${ws.map((w) => w.toShortString()).join(', ')})`;

/** Weights of TaylorSeer and Newton for m = 1..8 one gap ahead on even anchors (r = 1). */
export function evenWeightRows(): { order: number; anchors: number[]; taylorSeer: Fraction[]; newton: Fraction[] }[] {
  return ORDERS.map((m) => {
    const anchors = anchorsFor('even', m);
    const target = anchors[0]! + EVEN_GAP;
    return {
      order: m, anchors,
      taylorSeer: weightRow(taylorSeerExact(anchors, target, m), anchors),
      newton: weightRow(newtonWeights(Q, anchors, target, m), anchors),
    };
  });
}

/** The uneven example: the paper's N=5 anchors, target 3 steps after the last one. */
const UNEVEN_EXAMPLE_TARGET = 47;

export function unevenWeightRows(orders = [1, 2, 3]): { order: number; anchors: number[]; taylorSeer: Fraction[]; newton: Fraction[]; foca?: Fraction[] }[] {
  return orders.map((m) => {
    const anchors = anchorsFor('uneven', m);
    const t = UNEVEN_EXAMPLE_TARGET;
    return {
      order: m, anchors,
      taylorSeer: weightRow(taylorSeerExact(anchors, t, m), anchors),
      newton: weightRow(newtonWeights(Q, anchors, t, m), anchors),
      ...(m === 2 ? { foca: weightRow(focaWeights(Q, anchors, t), anchors) } : {}),
    };
  });
}

/** The identity checks as a grid: one row per identity and anchor kind, one column per order. */
function identityTable(checks: readonly Check[]): string {
  const keys: string[] = [];
  const byKey = new Map<string, Map<number, Check>>();
  for (const c of checks) {
    const key = `${c.name} [${c.anchors}]`;
    if (!byKey.has(key)) {
      byKey.set(key, new Map());
      keys.push(key);
    }
    byKey.get(key)!.set(c.order, c);
  }
  const orders = [...new Set(checks.map((c) => c.order))].sort((a, b) => a - b);
  const rows = keys.map((k) => [k, ...orders.map((m) => {
    const c = byKey.get(k)!.get(m);
    return c === undefined ? '' : c.passed ? 'ok' : 'FAIL';
  })]);
  return formatTable(['identity (exact arithmetic)', ...orders.map((m) => `m=${m}`)], rows);
}

/** Everything `ditto analyze` prints without data files. */
export function theoryReport(checks: readonly Check[]): string {
  const failed = checks.filter((c) => !c.passed);
  const even = evenWeightRows();
  const uneven = unevenWeightRows();
  const degreeOf = (method: Check['method'], kind: string, m: number) =>
    checks.find((c) => c.method === method && c.anchors === kind && c.order === m && /reproduces/.test(c.name))?.detail?.replace('exact to degree ', '') ?? '';
  const unevenAnchors = UNEVEN_ANCHORS.slice(0, 4).join(', ');
  return [
    `Forecast weights one gap ahead on even anchors (gap ${EVEN_GAP}, r = k/N = 1), most recent anchor first:`,
    '',
    formatTable(['m', 'TaylorSeer', 'Newton (interpolating polynomial)'], even.map((r) => [String(r.order), short(r.taylorSeer), short(r.newton)])),
    '',
    `FoCa (BDF2), m = 2: ${short(weightRow(focaWeights(Q, anchorsFor('even', 2), anchorsFor('even', 2)[0]! + EVEN_GAP), anchorsFor('even', 2)))}`,
    '',
    `Uneven anchors (the paper's N=5 full steps ${unevenAnchors}, ...), target step ${UNEVEN_EXAMPLE_TARGET}:`,
    '',
    formatTable(['m', 'anchors', 'TaylorSeer', 'Newton', 'FoCa'], uneven.map((r) => [String(r.order), r.anchors.join(','), short(r.taylorSeer), short(r.newton), r.foca ? short(r.foca) : ''])),
    '',
    'Highest polynomial degree forecast exactly (even / uneven anchors):',
    '',
    formatTable(['m', 'Newton', 'TaylorSeer', 'FoCa'], ORDERS.map((m) => [
      String(m), `${degreeOf('newton', 'even', m)} / ${degreeOf('newton', 'uneven', m)}`,
      `${degreeOf('taylorseer', 'even', m)} / ${degreeOf('taylorseer', 'uneven', m)}`,
      m === 2 ? `${degreeOf('foca', 'even', 2)} / ${degreeOf('foca', 'uneven', 2)}` : '',
    ])),
    '',
    identityTable(checks),
    '',
    failed.length === 0 ? `all ${checks.length} identities hold` : `${failed.length} of ${checks.length} identities FAILED`,
  ].join('\n');
}

const fmt = (v: number, digits = 4) => (Math.abs(v) < 1e-12 ? '0' : v.toFixed(digits));

/** L2P's effective weights on full steps per skipped step, against TaylorSeer. */
export function effectiveTable(steps: readonly EffectiveStep[], taylorSeerOrder: number, show = 4): string {
  const rows = steps.map((e) => {
    const recent = [...e.l2p].sort((a, b) => b.step - a.step).slice(0, show);
    const rest = e.l2p.filter((t) => !recent.includes(t)).reduce((a, t) => a + Math.abs(t.weight), 0);
    const ts = [...e.taylorSeer].sort((a, b) => b.step - a.step);
    return [
      String(e.step), `${e.anchor}+${e.k}`,
      recent.map((t) => `${t.step}:${fmt(t.weight, 3)}`).join(' ') + (rest > 0 ? ` (+|${fmt(rest, 3)}| older)` : ''),
      ts.map((t) => `${t.step}:${fmt(t.weight, 3)}`).join(' '),
      fmt(e.sum), fmt(e.toTaylorSeer, 3), fmt(e.toFora, 3),
    ];
  });
  return formatTable(['step', 'anchor+k', `L2P effective weights on full steps (latest ${show})`, `TaylorSeer m=${taylorSeerOrder}`, 'sum', 'L1 to TS', 'L1 to FORA'], rows);
}

export function fidelityTable(f: FidelityReport): string {
  const rows = f.mean.map((m, s) => [String(s), fmt(m), fmt(f.min[s]!), fmt(f.max[s]!)]);
  return [
    formatTable(['step', 'mean fidelity', 'min', 'max'], rows),
    '',
    `mean fidelity > ${f.threshold} on ${(f.above * 100).toFixed(0)}% of the ${f.mean.length} steps (step 0 has no history: 0)`,
  ].join('\n');
}
