// `ditto forward`: one DiT forward pass on inputs from a file, for checking the engine against PyTorch.
//
//   ditto forward --weights W.safetensors|W.pt --inputs I.safetensors --out O.safetensors
//                 [--cfg-scale S] [--backend auto|cpu|webgpu] [--heads H]
//
// I holds x [N, C, H, W] (F32), t [N] (the DDPM index, F32) and y [N] (I64 or I32). O gets `out`, and
// with --cfg-scale also `out_cfg` = forward_with_cfg([x; x], [t; t], [y; null], S).

import { UserError } from '../core/errors.js';
import { SafetensorsFile, writeSafetensors } from '../core/safetensors.js';
import { shapeString } from '../core/shape.js';
import { DiT } from '../models/dit/dit.js';
import { inspectDiT, loadDiT } from '../models/dit/weights.js';
import { createBackend, parseBackend } from './backend.js';
import { parseFlags, type CommandIo } from './flags.js';
import { formatJson } from './json.js';
import { checkInputs, checkOutputs } from './options.js';

export const forwardUsage = `usage: ditto forward --weights W.safetensors|W.pt --inputs I.safetensors --out O.safetensors
                     [--cfg-scale S] [--backend auto|cpu|webgpu] [--heads H] [--json]`;

interface Inputs {
  x: Float32Array;
  xShape: number[];
  t: Float32Array;
  y: Int32Array;
}

function readInputs(path: string): Inputs {
  const file = SafetensorsFile.open(path);
  try {
    for (const name of ['x', 't', 'y']) {
      if (!file.has(name)) throw new UserError(`${path}: missing tensor "${name}": inputs need x [N, C, H, W], t [N] and y [N]`);
    }
    const xShape = file.info('x').shape;
    const n = xShape[0];
    if (xShape.length !== 4) throw new UserError(`${path}: x has shape ${shapeString(xShape)}, expected [N, C, H, W]`);
    for (const name of ['t', 'y']) {
      const s = file.info(name).shape;
      if (s.length !== 1 || s[0] !== n) throw new UserError(`${path}: ${name} has shape ${shapeString(s)}, expected [${n}] to match x`);
    }
    const x = file.readF32('x');
    const bad = x.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new UserError(`${path}: x holds ${x[bad]} at element ${bad}: inputs must be finite`);
    return { x, xShape, t: file.readF32('t'), y: file.readI32('y') };
  } finally {
    file.close();
  }
}

export async function forwardCommand(argv: string[], io: CommandIo): Promise<void> {
  const flags = parseFlags(argv, {
    weights: { type: 'string' },
    inputs: { type: 'string' },
    out: { type: 'string' },
    'cfg-scale': { type: 'string' },
    backend: { type: 'string' },
    heads: { type: 'string' },
    json: { type: 'boolean' },
  }, forwardUsage);
  const backendChoice = parseBackend(flags.string('backend'));
  const weightsPath = flags.required('weights');
  const inputsPath = flags.required('inputs');
  const outPath = flags.required('out');
  const cfgScale = flags.number('cfg-scale');
  const heads = flags.integer('heads');
  const inputs = [{ flag: '--weights', path: weightsPath }, { flag: '--inputs', path: inputsPath }];
  checkInputs(inputs);
  checkOutputs([{ flag: '--out', path: outPath }], inputs);
  inspectDiT(weightsPath, { heads });
  const data = readInputs(inputsPath);
  const backend = await createBackend(backendChoice, io.info);

  const started = performance.now();
  const loaded = loadDiT(weightsPath, backend, { heads });
  const model = new DiT(loaded.config, loaded.weights);
  const x = backend.upload(data.x, data.xShape, 'f32');
  const out = model.forward(x, data.t, data.y);
  const results: Record<string, { dtype: 'F32'; shape: readonly number[]; data: Float32Array }> = {
    out: { dtype: 'F32', shape: out.shape, data: (await out.read()) as Float32Array },
  };
  if (cfgScale !== undefined) {
    const n = data.xShape[0];
    const x2 = backend.upload(new Float32Array([...data.x, ...data.x]), [2 * n, ...data.xShape.slice(1)], 'f32');
    const t2 = [...data.t, ...data.t];
    const y2 = [...data.y, ...new Array<number>(n).fill(loaded.config.numClasses)];
    const guided = model.forwardWithCfg(x2, t2, y2, cfgScale);
    results.out_cfg = { dtype: 'F32', shape: guided.shape, data: (await guided.read()) as Float32Array };
  }
  for (const [name, r] of Object.entries(results)) {
    const bad = r.data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new UserError(`the forward pass produced ${r.data[bad]} in ${name} (element ${bad}): the inputs or --cfg-scale are out of range for this model; nothing was written`);
  }
  writeSafetensors(outPath, results, { cfg_scale: String(cfgScale ?? '') });
  const seconds = (performance.now() - started) / 1000;
  const c = loaded.config;
  const summary = {
    out: outPath,
    backend: backend.name,
    config: c,
    tensors: Object.fromEntries(Object.entries(results).map(([k, v]) => [k, v.shape])),
    seconds,
  };
  if (flags.bool('json')) io.print(formatJson(summary));
  else {
    io.print(`DiT depth ${c.depth}, hidden ${c.hiddenSize}, heads ${c.numHeads}, patch ${c.patchSize}, ${c.inputSize}x${c.inputSize}x${c.inChannels}, learn_sigma ${c.learnSigma}`);
    io.print(`wrote ${Object.entries(results).map(([k, v]) => `${k} ${shapeString(v.shape)}`).join(', ')} to ${outPath} in ${seconds.toFixed(2)} s on ${backend.name}`);
  }
}
