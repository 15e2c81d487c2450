// What the VAE tests share: the fixtures of tools/make_vae_fixtures.py, and variants of them written
// to temporary files (tensors renamed, reshaped, retyped, dropped or added).

import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DTYPE_SIZES, SafetensorsFile, writeSafetensors, type SafeDType } from '../../../core/safetensors.js';
import { numel } from '../../../core/shape.js';
import { fixture } from '../../backends.js';

export const LDM = fixture('vae-c32-m12.ldm.safetensors');
export const DIFFUSERS = fixture('vae-c32-m12.diffusers.safetensors');
/** `latents` [2, 4, 6, 8] and the official decoder's `images` [2, 3, 12, 16] for them, scale 0.18215. */
export const EXPECTED = fixture('vae-c32-m12.expected.safetensors');

export interface RawTensor {
  dtype: SafeDType;
  shape: number[];
  bytes: Uint8Array;
}

/** A checkpoint's tensors, raw and in file order, to be edited. */
function readRaw(path: string): Map<string, RawTensor> {
  const file = SafetensorsFile.open(path);
  try {
    return new Map([...file.tensors].map(([name, info]) => [name, { dtype: info.dtype, shape: info.shape, bytes: file.readRaw(name) }]));
  } finally {
    file.close();
  }
}

const dir = fs.mkdtempSync(join(tmpdir(), 'ditto-vae-'));
let count = 0;

/** Bytes of a tensor whose shape or dtype an edit changed: cut short, or padded with zeros. */
function fit(t: RawTensor): Uint8Array {
  const out = new Uint8Array(numel(t.shape) * DTYPE_SIZES[t.dtype]);
  out.set(t.bytes.subarray(0, out.length));
  return out;
}

/** The checkpoint at `from` with `edit` applied, written to a new temporary file. */
export function variant(from: string, edit: (tensors: Map<string, RawTensor>) => void): string {
  const tensors = readRaw(from);
  edit(tensors);
  const path = join(dir, `vae-${count++}.safetensors`);
  writeSafetensors(path, new Map([...tensors].map(([name, t]) => [name, { dtype: t.dtype, shape: t.shape, bytes: () => fit(t) }])));
  return path;
}

/** Renames tensors in place, keeping their order: every name matching `from` gets `to` (String.replace). */
export function rename(tensors: Map<string, RawTensor>, from: RegExp, to: string): void {
  const entries = [...tensors].map(([name, t]) => [name.replace(from, to), t] as const);
  tensors.clear();
  for (const [name, t] of entries) tensors.set(name, t);
}
