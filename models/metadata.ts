// What the config readers of every model family share: the numbered blocks of a state dict, and the
// few `__metadata__` values a checkpoint may carry (counts, rotary axes, theta), each parsed strictly
// so that "", " 6", "0x6" and "Infinity" are refused with the key's name instead of read as numbers.

import { UserError } from '../core/errors.js';
import type { Shape } from '../core/shape.js';

/**
 * How many blocks `prefix.0.`, `prefix.1.`, ... a state dict has, numbered from 0 without a gap: counting
 * up from 0 alone would read a checkpoint missing one block as a shallower model and run it.
 */
export function blockCount(shapes: ReadonlyMap<string, Shape>, prefix: string): number {
  const indices = new Set<number>();
  const re = new RegExp(`^${prefix.replace(/\./g, '\\.')}\\.(0|[1-9][0-9]*)\\.`);
  for (const name of shapes.keys()) {
    const m = re.exec(name);
    if (m) indices.add(Number(m[1]));
  }
  let n = 0;
  while (indices.has(n)) n++;
  if (n < indices.size) {
    throw new UserError(`${prefix}.${n} is missing (the checkpoint has ${indices.size} ${prefix} up to ${Math.max(...indices)}): blocks are numbered from 0 without gaps; re-export the complete checkpoint`);
  }
  return n;
}

/** A positive integer from __metadata__, digits only. */
export function metadataCount(metadata: Record<string, string>, key: string): number | undefined {
  const v = metadata[key];
  if (v === undefined) return undefined;
  if (!/^[1-9][0-9]*$/.test(v)) throw new UserError(`__metadata__.${key} is ${JSON.stringify(v)}, not a positive integer: fix the checkpoint's metadata`);
  return Number(v);
}

/** `axes_dim`: the rotary dims per position axis, comma-separated positive even integers ("16,56,56"; spaces allowed). */
export function metadataAxes(metadata: Record<string, string>): number[] | undefined {
  const v = metadata.axes_dim;
  if (v === undefined) return undefined;
  const parts = v.split(',').map((p) => p.trim());
  if (!parts.every((p) => /^[1-9][0-9]*$/.test(p) && Number(p) % 2 === 0)) {
    throw new UserError(`__metadata__.axes_dim is ${JSON.stringify(v)}: expected comma-separated positive even integers such as "16,56,56"`);
  }
  return parts.map(Number);
}

/** `theta`, the rotary base, as a positive finite decimal ("10000", "2500.5"). */
export function metadataTheta(metadata: Record<string, string>): number | undefined {
  const v = metadata.theta;
  if (v === undefined) return undefined;
  const n = /^\s*[+]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/.test(v) ? Number(v) : NaN;
  if (!(Number.isFinite(n) && n > 0)) throw new UserError(`__metadata__.theta is ${JSON.stringify(v)}: expected a positive number such as "10000"`);
  return n;
}
