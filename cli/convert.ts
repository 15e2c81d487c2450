// `ditto convert`: a PyTorch checkpoint to safetensors, read without running its pickle.
//
//   ditto convert IN.pt OUT.safetensors [--heads H] [--f32] [--json]
//
// Every command takes .pt files directly; converting once saves reading the pickle on every run and
// gives a file other tools load without Python. OUT holds the state dict ditto reads from IN (a
// training checkpoint's "ema", else "model"), tensor for tensor in state-dict order, each in its
// stored dtype (--f32: every float tensor as F32), streamed one tensor at a time. A DiT gets its config
// as __metadata__ (patch_size, learn_sigma, num_classes from the shapes; num_heads only from --heads,
// since the shapes cannot tell it), so OUT carries what a run would otherwise need flags for.

import { checkpointFormat } from '../core/checkpoint.js';
import { UserError } from '../core/errors.js';
import { PyTorchFile } from '../core/pytorch.js';
import { DTYPE_SIZES, writeSafetensors, type RawTensorToWrite, type SafeDType } from '../core/safetensors.js';
import { numel, type Shape } from '../core/shape.js';
import { configFromShapes, type DiTConfig } from '../models/dit/config.js';
import { checkTensors } from '../models/dit/weights.js';
import { parseFlags, type CommandIo } from './flags.js';
import { formatJson } from './json.js';
import { checkInputs, checkOutputs } from './options.js';

export const convertUsage = `usage: ditto convert IN.pt OUT.safetensors [--heads H] [--f32] [--json]

Writes the weights of the PyTorch checkpoint IN (a training checkpoint's "ema", else its "model") to
OUT as safetensors, in state-dict order and in the dtypes stored. Nothing in IN is run.
  --heads H   a DiT's attention heads, recorded as __metadata__.num_heads (the shapes cannot tell it)
  --f32       write every float tensor as F32 (F16 and BF16 widen exactly, F64 rounds)
  --json      print a summary as JSON`;

const FLOATS: ReadonlySet<SafeDType> = new Set(['F32', 'F16', 'BF16', 'F64']);

/** The tensors' DiT config, or why they are not a DiT ditto can load (the message, without the file name). */
function ditConfig(file: PyTorchFile, shapes: ReadonlyMap<string, Shape>): { config: DiTConfig; reason: null } | { config: null; reason: string } {
  try {
    // One head divides every hidden size: the heads are recorded only when --heads gives them.
    const config = configFromShapes(shapes, {}, 1);
    checkTensors(file.path, file.tensors, config);
    return { config, reason: null };
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    const prefix = `${file.path}: `;
    return { config: null, reason: e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message };
  }
}

export async function convertCommand(argv: string[], io: CommandIo): Promise<void> {
  const flags = parseFlags(argv, {
    heads: { type: 'string' },
    f32: { type: 'boolean' },
    json: { type: 'boolean' },
  }, convertUsage, 2);
  const [inPath, outPath] = flags.positionals;
  if (inPath === undefined || outPath === undefined) throw new UserError('convert takes IN.pt and OUT.safetensors (ditto convert --help lists the flags)');
  const heads = flags.integer('heads');
  if (!/\.safetensors$/i.test(outPath)) throw new UserError(`OUT ${outPath}: convert writes safetensors; give a path ending in .safetensors`);
  const input = { flag: 'IN', path: inPath, what: 'PyTorch checkpoint' };
  checkInputs([input]);
  checkOutputs([{ flag: 'OUT', path: outPath }], [input]);
  if (checkpointFormat(inPath) === 'safetensors') {
    throw new UserError(`IN ${inPath} is not a PyTorch checkpoint (no zip signature): convert reads .pt files written by torch.save; a safetensors file needs no converting`);
  }

  const started = performance.now();
  const file = PyTorchFile.open(inPath);
  try {
    const shapes = new Map<string, Shape>([...file.tensors].map(([name, t]) => [name, t.shape]));
    const dit = ditConfig(file, shapes);
    if (dit.reason !== null && heads !== undefined) {
      throw new UserError(`--heads is a DiT's, and ${inPath} is not a DiT ditto can load (${dit.reason}): leave --heads out`);
    }
    // With --heads the config is read again, so that a --heads that does not divide the hidden size is refused.
    const config = dit.config && heads !== undefined ? configFromShapes(shapes, {}, heads) : dit.config;
    const metadata: Record<string, string> = {};
    if (config) {
      Object.assign(metadata, { patch_size: String(config.patchSize), learn_sigma: String(config.learnSigma), num_classes: String(config.numClasses) });
      if (heads !== undefined) metadata.num_heads = String(heads);
    }

    const tensors = new Map<string, RawTensorToWrite>();
    const dtypes: Record<string, number> = {};
    let bytes = 0;
    for (const [name, info] of file.tensors) {
      const widen = flags.bool('f32') && FLOATS.has(info.dtype);
      const dtype: SafeDType = widen ? 'F32' : info.dtype;
      tensors.set(name, {
        dtype,
        shape: info.shape,
        bytes: widen ? () => new Uint8Array(file.readF32(name).buffer) : () => file.readRaw(name),
      });
      dtypes[dtype] = (dtypes[dtype] ?? 0) + 1;
      bytes += numel(info.shape) * DTYPE_SIZES[dtype];
    }
    writeSafetensors(outPath, tensors, metadata);

    const seconds = (performance.now() - started) / 1000;
    const source = file.selected === null ? 'the state dict' : `"${file.selected}"`;
    if (flags.bool('json')) {
      // Without --heads the config has no head count: the 1 it was read with is not the model's.
      const dit = config && { ...config, numHeads: heads ?? null };
      io.print(formatJson({ in: inPath, out: outPath, stateDict: file.selected, tensors: tensors.size, dtypes, bytes, dit, metadata, seconds }));
      return;
    }
    const counts = Object.entries(dtypes).map(([d, n]) => `${n} ${d}`).join(', ');
    io.print(`read ${source} of ${inPath}: ${tensors.size} tensors (${counts})`);
    if (config) {
      const c = config;
      io.print(`DiT depth ${c.depth}, hidden ${c.hiddenSize}, patch ${c.patchSize}, ${c.inputSize}x${c.inputSize}x${c.inChannels}, learn_sigma ${c.learnSigma}, ${c.numClasses} classes` +
        (heads === undefined ? ', heads not recorded (--heads H records them)' : `, ${heads} heads`));
    } else {
      io.info(`not a DiT ditto can load (${dit.reason}): written without DiT metadata`);
    }
    io.print(`wrote ${outPath} (${(bytes / 2 ** 20).toFixed(1)} MiB of tensors) in ${seconds.toFixed(2)} s`);
  } finally {
    file.close();
  }
}
