// `ditto forward`: one transformer forward pass on inputs from a file, for checking the engine against
// PyTorch. The checkpoint's tensor names tell the architecture (models/architecture.ts).
//
//   ditto forward --weights W.safetensors|W.pt --inputs I.safetensors --out O.safetensors
//                 [--cfg-scale S] [--backend auto|cpu|webgpu] [--heads H]
//
// DiT: I holds x [N, C, H, W] (F32), t [N] (the DDPM index, F32) and y [N] (I64 or I32). O gets `out`,
// and with --cfg-scale also `out_cfg` = forward_with_cfg([x; x], [t; t], [y; null], S).
// FLUX: I holds img [B, L, in], img_ids [B, L, 3], txt [B, Lt, ctx], txt_ids [B, Lt, 3], timesteps [B]
// in [0, 1], y [B, vec] and, for a model with guidance_in, guidance [B]; O gets `out` [B, L, out].
// Qwen-Image (diffusers layout): I holds img [B, L, in], txt [B, Lt, joint], timesteps [B] in [0, 1]
// and img_shapes [K, 3] (I32 or I64: frames, height, width in patches of each of the K images of the
// sequence, shared by every sample; sum of f*h*w = L); O gets `out` [B, L, p*p*out] (no text mask:
// give unpadded text).

import type { Backend } from '../core/backend.js';
import { UserError } from '../core/errors.js';
import { SafetensorsFile, writeSafetensors } from '../core/safetensors.js';
import { shapeString } from '../core/shape.js';
import { checkpointArchitecture } from '../models/architecture.js';
import { inFile } from '../models/weights.js';
import { DiT } from '../models/dit/dit.js';
import { Flux } from '../models/flux/flux.js';
import { inspectFlux, loadFlux } from '../models/flux/weights.js';
import { inspectDiT, loadDiT } from '../models/dit/weights.js';
import { checkImageShapes, QwenImage } from '../models/qwen-image/qwen-image.js';
import { checkPositions, type ImageShape } from '../models/qwen-image/rope.js';
import { inspectQwenImage, loadQwenImage } from '../models/qwen-image/weights.js';
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

/** A float tensor of an inputs file, as f32 with its shape checked (rank, and dims given as numbers), refused if not finite. */
function readInput(file: SafetensorsFile, name: string, dims: (number | string)[], what: string): { data: Float32Array; shape: number[] } {
  if (!file.has(name)) throw new UserError(`${file.path}: missing tensor "${name}": ${what}`);
  const shape = file.info(name).shape;
  if (shape.length !== dims.length || dims.some((d, i) => typeof d === 'number' && shape[i] !== d)) {
    throw new UserError(`${file.path}: ${name} has shape ${shapeString(shape)}, expected [${dims.join(', ')}]`);
  }
  const data = file.readF32(name);
  const bad = data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new UserError(`${file.path}: ${name} holds ${data[bad]} at element ${bad}: inputs must be finite`);
  return { data, shape };
}

const FLUX_INPUTS = 'FLUX inputs are img [B, L, in], img_ids [B, L, 3], txt [B, Lt, ctx], txt_ids [B, Lt, 3], timesteps [B], y [B, vec] and guidance [B] (models with guidance_in)';

/** The FLUX inputs file, read and checked against the checkpoint's config before any device opens. */
function readFluxInputs(weightsPath: string, inputsPath: string) {
  const { config } = inspectFlux(weightsPath);
  const axes = config.axesDim.length;
  const file = SafetensorsFile.open(inputsPath);
  try {
    const img = readInput(file, 'img', ['B', 'L', config.inChannels], FLUX_INPUTS);
    const [B, L] = img.shape;
    const txt = readInput(file, 'txt', [B, 'Lt', config.contextInDim], FLUX_INPUTS);
    const Lt = txt.shape[1];
    return {
      img, txt,
      imgIds: readInput(file, 'img_ids', [B, L, axes], FLUX_INPUTS),
      txtIds: readInput(file, 'txt_ids', [B, Lt, axes], FLUX_INPUTS),
      timesteps: readInput(file, 'timesteps', [B], FLUX_INPUTS),
      y: readInput(file, 'y', [B, config.vecInDim], FLUX_INPUTS),
      // The official forward ignores guidance when the model does not embed it: so does this.
      guidance: config.guidanceEmbed ? readInput(file, 'guidance', [B], `this model has guidance_in (like FLUX.1-dev): ${FLUX_INPUTS}`) : null,
    };
  } finally {
    file.close();
  }
}

/** One FLUX forward: `out` [B, L, out_channels]. */
async function runFlux(weightsPath: string, inputs: ReturnType<typeof readFluxInputs>, backend: Backend): Promise<Run> {
  const { config: c, weights } = loadFlux(weightsPath, backend);
  const up = (t: { data: Float32Array; shape: number[] }) => backend.upload(t.data, t.shape, 'f32');
  const out = new Flux(c, weights).forward({
    img: up(inputs.img), imgIds: inputs.imgIds.data, txt: up(inputs.txt), txtIds: inputs.txtIds.data,
    timesteps: inputs.timesteps.data, y: up(inputs.y), guidance: inputs.guidance?.data,
  });
  return {
    results: { out: { dtype: 'F32', shape: out.shape, data: (await out.read()) as Float32Array } },
    describe: `FLUX double blocks ${c.depth}, single ${c.depthSingle}, hidden ${c.hiddenSize}, heads ${c.numHeads}, axes ${c.axesDim.join(',')}, theta ${c.theta}, guidance ${c.guidanceEmbed}`,
    config: c,
  };
}

const QWEN_INPUTS = 'Qwen-Image inputs are img [B, L, in], txt [B, Lt, joint], timesteps [B] and img_shapes [K, 3] (I32: frames, height, width in patches per image)';

/** The Qwen-Image inputs file, read and checked against the checkpoint's config before any device opens. */
function readQwenInputs(weightsPath: string, inputsPath: string) {
  const { config } = inspectQwenImage(weightsPath);
  const file = SafetensorsFile.open(inputsPath);
  try {
    const img = readInput(file, 'img', ['B', 'L', config.inChannels], QWEN_INPUTS);
    const [B, L] = img.shape;
    const txt = readInput(file, 'txt', [B, 'Lt', config.jointAttentionDim], QWEN_INPUTS);
    const timesteps = readInput(file, 'timesteps', [B], QWEN_INPUTS);
    if (!file.has('img_shapes')) throw new UserError(`${inputsPath}: missing tensor "img_shapes": ${QWEN_INPUTS}`);
    const s = file.info('img_shapes').shape;
    if (s.length !== 2 || s[1] !== 3) throw new UserError(`${inputsPath}: img_shapes has shape ${shapeString(s)}, expected [K, 3] (frames, height, width in patches per image)`);
    // Integers only: readI32 refuses a float tensor in one line.
    const flat = file.readI32('img_shapes');
    const imgShapes: ImageShape[] = Array.from({ length: s[0] }, (_, k) => [flat[3 * k], flat[3 * k + 1], flat[3 * k + 2]] as const);
    inFile(inputsPath, () => {
      checkImageShapes(imgShapes, L);
      checkPositions(imgShapes, txt.shape[1]);
    });
    return { img, txt, timesteps, imgShapes };
  } finally {
    file.close();
  }
}

/** One Qwen-Image forward: `out` [B, L, patch^2 * out_channels]. */
async function runQwen(weightsPath: string, inputs: ReturnType<typeof readQwenInputs>, backend: Backend): Promise<Run> {
  const { config: c, weights } = loadQwenImage(weightsPath, backend);
  const up = (t: { data: Float32Array; shape: number[] }) => backend.upload(t.data, t.shape, 'f32');
  const out = new QwenImage(c, weights).forward({ img: up(inputs.img), txt: up(inputs.txt), timesteps: inputs.timesteps.data, imgShapes: inputs.imgShapes });
  return {
    results: { out: { dtype: 'F32', shape: out.shape, data: (await out.read()) as Float32Array } },
    describe: `Qwen-Image blocks ${c.numLayers}, hidden ${c.hiddenSize}, heads ${c.numHeads}, axes ${c.axesDim.join(',')}, theta ${c.theta}, out ${c.patchSize}x${c.patchSize}x${c.outChannels}`,
    config: c,
  };
}

/** DiT: `out`, and with a guidance scale also `out_cfg`. */
async function runDit(weightsPath: string, data: Inputs, backend: Backend, heads: number | undefined, cfgScale: number | undefined): Promise<Run> {
  const loaded = loadDiT(weightsPath, backend, { heads });
  const model = new DiT(loaded.config, loaded.weights);
  const x = backend.upload(data.x, data.xShape, 'f32');
  const out = model.forward(x, data.t, data.y);
  const results: Results = { out: { dtype: 'F32', shape: out.shape, data: (await out.read()) as Float32Array } };
  if (cfgScale !== undefined) {
    const n = data.xShape[0];
    const x2 = backend.upload(new Float32Array([...data.x, ...data.x]), [2 * n, ...data.xShape.slice(1)], 'f32');
    const t2 = [...data.t, ...data.t];
    const y2 = [...data.y, ...new Array<number>(n).fill(loaded.config.numClasses)];
    const guided = model.forwardWithCfg(x2, t2, y2, cfgScale);
    results.out_cfg = { dtype: 'F32', shape: guided.shape, data: (await guided.read()) as Float32Array };
  }
  const c = loaded.config;
  return {
    results,
    describe: `DiT depth ${c.depth}, hidden ${c.hiddenSize}, heads ${c.numHeads}, patch ${c.patchSize}, ${c.inputSize}x${c.inputSize}x${c.inChannels}, learn_sigma ${c.learnSigma}`,
    config: c,
  };
}

interface Run {
  results: Results;
  /** One line naming the architecture and its config. */
  describe: string;
  config: object;
}

const ARCHITECTURE_NAMES = { dit: 'DiT', flux: 'FLUX', 'qwen-image': 'Qwen-Image' } as const;

type Results = Record<string, { dtype: 'F32'; shape: readonly number[]; data: Float32Array }>;

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
  const architecture = checkpointArchitecture(weightsPath);
  let run: (backend: Backend) => Promise<Run>;
  if (architecture === 'dit') {
    inspectDiT(weightsPath, { heads });
    const data = readInputs(inputsPath);
    run = (backend) => runDit(weightsPath, data, backend, heads, cfgScale);
  } else {
    for (const [flag, value] of [['--cfg-scale', cfgScale], ['--heads', heads]] as const) {
      if (value !== undefined) throw new UserError(`${flag} applies to DiT checkpoints; ${weightsPath} is a ${ARCHITECTURE_NAMES[architecture]} transformer: drop ${flag}`);
    }
    if (architecture === 'qwen-image') {
      const data = readQwenInputs(weightsPath, inputsPath);
      run = (backend) => runQwen(weightsPath, data, backend);
    } else {
      const data = readFluxInputs(weightsPath, inputsPath);
      run = (backend) => runFlux(weightsPath, data, backend);
    }
  }
  const backend = await createBackend(backendChoice, io.info);

  const started = performance.now();
  const { results, describe, config } = await run(backend);
  for (const [name, r] of Object.entries(results)) {
    const bad = r.data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new UserError(`the forward pass produced ${r.data[bad]} in ${name} (element ${bad}): the inputs or --cfg-scale are out of range for this model; nothing was written`);
  }
  writeSafetensors(outPath, results, { cfg_scale: String(cfgScale ?? '') });
  const seconds = (performance.now() - started) / 1000;
  const summary = {
    out: outPath,
    architecture,
    backend: backend.name,
    config,
    tensors: Object.fromEntries(Object.entries(results).map(([k, v]) => [k, v.shape])),
    seconds,
  };
  if (flags.bool('json')) io.print(formatJson(summary));
  else {
    io.print(describe);
    io.print(`wrote ${Object.entries(results).map(([k, v]) => `${k} ${shapeString(v.shape)}`).join(', ')} to ${outPath} in ${seconds.toFixed(2)} s on ${backend.name}`);
  }
}
