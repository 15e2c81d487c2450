// A checkpoint is accepted only if it is complete, well-typed and finite. Each bad checkpoint here is
// the fixture with one thing changed, and each must be refused with one line naming the file and what
// is wrong.

import * as fs from 'node:fs';
import { tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CpuBackend } from '../../../core/cpu/backend.js';
import { UserError } from '../../../core/errors.js';
import { DTYPE_SIZES, SafetensorsFile, type SafeDType } from '../../../core/safetensors.js';
import { numel } from '../../../core/shape.js';
import type { Storage } from '../../../core/tensor.js';
import { preset, type DiTConfig } from '../../../models/dit/config.js';
import { expectedShapes, inspectDiT, loadDiT } from '../../../models/dit/weights.js';
import { BUNDLED_MODEL } from '../../../models/pretrained.js';
import { fixture } from '../../backends.js';

const backend = new CpuBackend(1);
const dir = fs.mkdtempSync(join(tmpdir(), 'ditto-weights-'));
const FIXTURE = fixture('dit-d2-h96-p2.weights.safetensors');
let count = 0;

interface RawTensor {
  dtype: SafeDType;
  shape: number[];
  /** Little-endian bytes; none: zeros, left as a hole in a sparse file. */
  bytes?: Uint8Array;
}

/** Writes any dtype (writeSafetensors writes only the four ditto produces); holes stay sparse. */
function writeRaw(tensors: Record<string, RawTensor>, metadata: Record<string, string>): string {
  const entries = [`"__metadata__":${JSON.stringify(metadata)}`];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const size = numel(t.shape) * DTYPE_SIZES[t.dtype];
    entries.push(`${JSON.stringify(name)}:${JSON.stringify({ dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] })}`);
    offset += size;
  }
  const header = Buffer.from(`{${entries.join(',')}}`);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  const path = join(dir, `checkpoint-${count++}.safetensors`);
  const fd = fs.openSync(path, 'w');
  fs.writeSync(fd, length);
  fs.writeSync(fd, header);
  let at = 8 + header.length;
  for (const t of Object.values(tensors)) {
    if (t.bytes) fs.writeSync(fd, t.bytes, 0, t.bytes.length, at);
    at += numel(t.shape) * DTYPE_SIZES[t.dtype];
  }
  fs.ftruncateSync(fd, at);
  fs.closeSync(fd);
  return path;
}

/** A checkpoint as raw tensors, to be edited. */
function read(path: string): { tensors: Record<string, RawTensor>; metadata: Record<string, string> } {
  const file = SafetensorsFile.open(path);
  const tensors: Record<string, RawTensor> = {};
  for (const [name, info] of file.tensors) tensors[name] = { dtype: info.dtype, shape: info.shape, bytes: file.readRaw(name) };
  file.close();
  return { tensors, metadata: { ...file.metadata } };
}

const source = read(FIXTURE);
const bundled = read(BUNDLED_MODEL);

/** A checkpoint (the fixture by default) with `edit` applied, written to a temp file. */
function variant(edit: (tensors: Record<string, RawTensor>, metadata: Record<string, string>) => void, from = source): string {
  const tensors = { ...from.tensors }, metadata = { ...from.metadata };
  edit(tensors, metadata);
  return writeRaw(tensors, metadata);
}

const f32 = (values: Float32Array) => new Uint8Array(values.buffer);
/** The fixture tensor's values as f32, to be edited. */
const valuesOf = (name: string) => new Float32Array(source.tensors[name].bytes!.slice().buffer);

/** loadDiT must refuse `path` with one line: the file, then `problem`. */
function refuses(path: string, problem: RegExp, load: (path: string) => unknown = (p) => loadDiT(p, backend)): void {
  const pattern = new RegExp(`^${path.replace(/[.]/g, '\\.')}: ${problem.source}`);
  assert.throws(() => load(path), (e: Error) => e instanceof UserError && pattern.test(e.message) && !e.message.includes('\n'), String(pattern));
}

test('the fixtures and the bundled model load', () => {
  const { config } = loadDiT(FIXTURE, backend);
  assert.equal([config.depth, config.hiddenSize, config.numHeads, config.patchSize, config.inputSize], [2, 96, 6, 2, 8]);
  for (const name of ['dit-d2-h144-hd72-p4', 'dit-d1-h64-p8-nosigma', 'dit-d3-h64-p2-rect']) {
    loadDiT(fixture(`${name}.weights.safetensors`), backend, { heads: name.includes('nosigma') ? 4 : undefined });
  }
  assert.is(inspectDiT(fixture('dit-d1-h64-p8-nosigma.weights.safetensors'), { heads: 4 }).config.learnSigma, false);
  const mnist = loadDiT(BUNDLED_MODEL, backend).config;
  assert.equal([mnist.depth, mnist.hiddenSize, mnist.numHeads, mnist.learnSigma], [4, 192, 4, false]);
});

test('a missing tensor is named with its expected shape', () => {
  refuses(variant((t) => delete t['blocks.1.mlp.fc2.bias']), /missing tensor "blocks\.1\.mlp\.fc2\.bias" \(expected shape \[96\]\): the checkpoint is incomplete; re-export it$/);
  // Without blocks.3's qkv weight, counting blocks from 0 used to find 3 and run them without complaint.
  refuses(variant((t) => delete t['blocks.3.attn.qkv.weight'], bundled), /missing tensor "blocks\.3\.attn\.qkv\.weight" \(expected shape \[576, 192\]\)/);
});

test('several missing tensors are counted and the first few named', () => {
  const path = variant((t) => {
    delete t['blocks.1.attn.qkv.weight'];
    delete t['blocks.1.attn.qkv.bias'];
    delete t['blocks.1.mlp.fc1.bias'];
    delete t['t_embedder.mlp.2.bias'];
    delete t['final_layer.linear.bias'];
  });
  refuses(path, /5 tensors missing: "t_embedder\.mlp\.2\.bias", "blocks\.1\.attn\.qkv\.weight", "blocks\.1\.attn\.qkv\.bias", "blocks\.1\.mlp\.fc1\.bias", \.\.\.: the checkpoint is incomplete; re-export it$/);
});

test('a gap in the block numbers is refused', () => {
  const path = variant((t) => {
    for (const name of Object.keys(t)) if (name.startsWith('blocks.1.')) t[name.replace('blocks.1.', 'blocks.2.')] = t[name];
    for (const name of Object.keys(t)) if (name.startsWith('blocks.1.')) delete t[name];
  });
  refuses(path, /block 1 is missing \(the checkpoint has blocks 0, 2\)/);
});

test('tensors a DiT does not have are refused, counted and listed', () => {
  const one = { dtype: 'F32', shape: [1], bytes: f32(new Float32Array([1])) } satisfies RawTensor;
  refuses(variant((t) => (t['blocks.0.norm1.weight'] = one)), /a tensor that a DiT does not have: "blocks\.0\.norm1\.weight": is this a DiT checkpoint in the official layout/);
  const path = variant((t) => {
    t.foo = one;
    t['blocks.01.attn.qkv.weight'] = one;
    t['model.pos_embed'] = one;
    t['line\nbreak'] = one;
    t['ema.x'] = one;
  });
  refuses(path, /5 tensors that a DiT does not have: "[^"]+", "[^"]+", "[^"]+", "[^"]+", \.\.\.: is this a DiT checkpoint/);
});

test('a wrong shape is named with the expected and the found shape', () => {
  refuses(
    variant((t) => (t['blocks.0.attn.proj.weight'] = { dtype: 'F32', shape: [96, 95], bytes: new Uint8Array(96 * 95 * 4) })),
    /tensor "blocks\.0\.attn\.proj\.weight" has shape \[96, 95\], expected \[96, 96\]/,
  );
});

test('integer and bool weights are refused', () => {
  for (const dtype of ['I64', 'I32', 'I16', 'I8', 'U64', 'U32', 'U16', 'U8', 'BOOL'] as const) {
    const path = variant((t) => (t['blocks.0.attn.proj.weight'] = { dtype, shape: [96, 96] }));
    refuses(path, new RegExp(`tensor "blocks\\.0\\.attn\\.proj\\.weight" is ${dtype}; DiT weights are floating point \\(F32, F16, BF16 or F64\\): re-export the checkpoint with float weights$`));
  }
});

test('F16, BF16 and F64 weights are read as f32', async () => {
  const want = valuesOf('final_layer.linear.weight');
  const bf16 = new Uint16Array(want.length), f64 = Float64Array.from(want);
  const bits = new Uint32Array(want.buffer);
  for (let i = 0; i < want.length; i++) bf16[i] = bits[i] >>> 16; // truncated: exact in BF16
  const shape = source.tensors['final_layer.linear.weight'].shape;
  for (const [dtype, bytes, tolerance] of [['BF16', new Uint8Array(bf16.buffer), 2 ** -7], ['F64', new Uint8Array(f64.buffer), 0]] as const) {
    const { weights } = loadDiT(variant((t) => (t['final_layer.linear.weight'] = { dtype, shape, bytes })), backend);
    const got = await weights.finalLinear.weight.read();
    for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= Math.abs(want[i]) * tolerance, `${dtype} [${i}]`);
  }
  const { weights } = loadDiT(BUNDLED_MODEL, backend); // F16 throughout
  assert.ok((await weights.finalLinear.weight.read()).some((v) => v !== 0));
});

test('a NaN or infinite weight is refused with its position', () => {
  const cases: [string, number, number, RegExp][] = [
    ['blocks.1.mlp.fc1.weight', 96 * 5 + 17, NaN, /tensor "blocks\.1\.mlp\.fc1\.weight" holds NaN at \[5, 17\] \(flat index 497\): weights must be finite; re-export the checkpoint$/],
    ['pos_embed', 3, -Infinity, /tensor "pos_embed" holds -Infinity at \[0, 0, 3\] \(flat index 3\)/],
    ['final_layer.linear.bias', 31, Infinity, /tensor "final_layer\.linear\.bias" holds Infinity at \[31\] \(flat index 31\)/],
  ];
  for (const [name, index, value, problem] of cases) {
    const values = valuesOf(name);
    values[index] = value;
    refuses(variant((t) => (t[name] = { ...t[name], bytes: f32(values) })), problem);
  }
  // F16 NaN (0x7e00), and an F64 value that no f32 can hold.
  const f16 = bundled.tensors['final_layer.linear.bias'].bytes!.slice();
  new Uint16Array(f16.buffer)[1] = 0x7e00;
  refuses(variant((t) => (t['final_layer.linear.bias'] = { ...t['final_layer.linear.bias'], bytes: f16 }), bundled), /tensor "final_layer\.linear\.bias" holds NaN at \[1\]/);
  const big = Float64Array.from(valuesOf('x_embedder.proj.bias'));
  big[7] = 1e300;
  refuses(
    variant((t) => (t['x_embedder.proj.bias'] = { dtype: 'F64', shape: [96], bytes: new Uint8Array(big.buffer) })),
    /tensor "x_embedder\.proj\.bias" holds a value beyond the f32 range at \[7\] \(flat index 7\)/,
  );
});

test('a refused tensor releases every tensor uploaded before it', () => {
  const values = valuesOf('final_layer.linear.bias');
  values[0] = NaN;
  const path = variant((t) => (t['final_layer.linear.bias'] = { ...t['final_layer.linear.bias'], bytes: f32(values) }));
  const counting = new CpuBackend(1);
  let live = 0;
  const upload = counting.upload.bind(counting), release = counting.release.bind(counting);
  counting.upload = (...args) => (live++, upload(...args));
  counting.release = (storage: Storage) => (live--, release(storage));
  refuses(path, /tensor "final_layer\.linear\.bias" holds NaN/, (p) => loadDiT(p, counting));
  assert.is(live, 0);
});

test('checkpoints too large for memory are refused from the header (sparse files)', () => {
  // One tensor larger than a typed array: a label table of 2^28 classes at hidden size 96.
  const config = { ...preset('S/2'), hiddenSize: 96, numHeads: 6, depth: 1, numClasses: 2 ** 28 };
  const sparse = (c: DiTConfig) => writeRaw(Object.fromEntries([...expectedShapes(c)].map(([name, shape]) => [name, { dtype: 'F32', shape }])), { num_heads: String(c.numHeads) });
  refuses(sparse(config), /tensor "y_embedder\.embedding_table\.weight" \[268435457, 96\] takes 96\.0 GiB as f32, more than one buffer can hold/, inspectDiT);
  // Each tensor fits, all of them do not: fc1 and fc2 just under 4 GiB each, in enough blocks (one token, so
  // that the activations stay small).
  const ratio = Math.floor(2 ** 32 / 4 / 96 / 96);
  const depth = Math.ceil(totalmem() / (2 * 4 * 96 * 96 * ratio)) + 1;
  refuses(sparse({ ...config, numClasses: 10, inputSize: 2, mlpRatio: ratio, depth }), /the weights take [\d.]+ GiB as f32, more than this machine's [\d.]+ GiB of memory$/, inspectDiT);
  // Small weights, huge activations: 65536 tokens through an MLP 65536 wide.
  const wide = { ...config, numClasses: 10, hiddenSize: 64, numHeads: 4, inputSize: 256, patchSize: 1, mlpRatio: 1024 };
  refuses(sparse(wide), /one image's activations \(65536 tokens x 65536 features\) take 16\.0 GiB as f32, more than one buffer can hold/, inspectDiT);
});

test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

test.run();
