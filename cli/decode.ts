// `ditto decode`: latents to images with a Stable Diffusion VAE's decoder (models/vae).
//
//   ditto decode --vae V --latents L.safetensors --out O.safetensors|O.png [--scale 0.18215]
//                [--backend auto|cpu|webgpu] [--json]
//
// L holds `latents` [N, C, h, w] as a sampler draws them (or `samples`, which `ditto sample --out
// x.safetensors` writes). O gets `images` [N, 3, f*h, f*w] = decoder(latents / scale), f = 2^(levels-1)
// (8 for Stable Diffusion's VAE), unclamped; or a PNG grid of them, mapped from [-1, 1] and clamped.

import type { Backend } from '../core/backend.js';
import { CpuBackend } from '../core/cpu/backend.js';
import { UserError } from '../core/errors.js';
import { SafetensorsFile, writeSafetensors } from '../core/safetensors.js';
import { shapeString } from '../core/shape.js';
import { grid, toImages } from '../models/image.js';
import { writePng } from '../models/png.js';
import { upscaleFactor, type VaeConfig } from '../models/vae/config.js';
import { WebGpuBackend } from '../core/webgpu/index.js';
import { decodeLatents, largestPerImage, VaeDecoder } from '../models/vae/decoder.js';
import { inspectVae, loadVae } from '../models/vae/weights.js';
import { WEIGHT_DTYPES } from '../models/weights.js';
import { createBackend, parseBackend, type BackendChoice } from './backend.js';
import { parseFlags, type CommandIo, type Flags } from './flags.js';
import { formatJson } from './json.js';
import { checkImageCount, checkInputs, checkOutputs, MAX_HOST_BYTES } from './options.js';
import { progress } from './progress.js';

export const decodeUsage = `usage: ditto decode --vae V.safetensors|V.pt --latents L.safetensors --out O.safetensors|O.png
                    [--scale 0.18215] [--backend auto|cpu|webgpu] [--json]
  --vae      a Stable Diffusion VAE (an AutoencoderKL checkpoint, latent-diffusion's or diffusers' names)
  --latents  latents [N, C, h, w] as a sampler draws them, named latents (or samples, as ditto sample writes)
  --scale    the VAE's scale factor: the decoder gets latents / scale (default 0.18215, Stable Diffusion's)
  --out      images [N, 3, H, W] as safetensors (not clamped), or a PNG grid (clamped from [-1, 1])`;

/**
 * Why auto runs a decode on an emulated adapter even for one image when the CPU backend runs its
 * TypeScript kernels: on 2 cores, one 256x256 image from the SD VAE took 91 s on them and 27 s on
 * lavapipe with a cold shader cache (21 s warm). Its SIMD kernels beat lavapipe (cli/backend.ts).
 */
export const DECODE_ON_EMULATED = "a VAE decode runs 3 to 4 times faster there than on the CPU backend's TypeScript kernels";

/** Stable Diffusion's scale factor: its VAE's latents times this have about unit variance. */
const SD_SCALE = 0.18215;

/** --scale: a finite positive number (the latents are divided by it). */
export function scaleFromFlags(flags: Flags): number {
  const scale = flags.number('scale') ?? SD_SCALE;
  if (!(scale > 0)) throw new UserError(`--scale must be a positive number (the VAE's scale factor, ${SD_SCALE} for Stable Diffusion), got ${scale}`);
  return scale;
}

/** Refuses images whose values, as f32, would not fit the host memory one command may hold. */
export function checkImageBytes(c: VaeConfig, latentShape: readonly number[], what: string): void {
  const [n, , h, w] = latentShape;
  const f = upscaleFactor(c);
  const bytes = n * c.outChannels * f * h * f * w * 4;
  if (bytes > MAX_HOST_BYTES) {
    throw new UserError(`${what}: ${n} images of ${f * h}x${f * w} take ${(bytes / 2 ** 30).toFixed(1)} GiB as f32, more than the ${MAX_HOST_BYTES / 2 ** 30} GiB one command holds: decode fewer at a time`);
  }
}

/**
 * The backend that decodes latents of this shape: `backend`, unless one image's largest tensor is more
 * than a GPU buffer binds (lavapipe binds 128 MiB; one 512x512 image of the SD VAE needs 256 MiB).
 * Then auto decodes on the CPU backend instead, whose limit is only a memory budget, and says so; a
 * forced --backend webgpu is refused, before any work.
 */
export function decodeBackend(backend: Backend, choice: BackendChoice, c: VaeConfig, latentShape: readonly number[], log: (line: string) => void): Backend {
  const [, , h, w] = latentShape;
  const need = largestPerImage(c, h, w);
  if (backend instanceof CpuBackend || need <= backend.maxTensorElements) return backend;
  const f = upscaleFactor(c);
  const mib = (elements: number) => `${((elements * 4) / 2 ** 20).toFixed(1)} MiB`;
  const why = `one ${f * h}x${f * w} image needs a tensor of ${mib(need)}, more than this GPU binds (${mib(backend.maxTensorElements)})`;
  if (choice === 'webgpu') throw new UserError(`--backend webgpu: ${why}: decode with --backend cpu`);
  const cpu = new CpuBackend();
  log(`decoding on the cpu backend, ${cpu.pool.threads} threads: ${why}`);
  return cpu;
}

/** The latents of a safetensors file, checked against the VAE: named latents or samples, [N, C, h, w], float, finite. */
function readLatents(path: string, c: VaeConfig): { data: Float32Array; shape: number[] } {
  const file = SafetensorsFile.open(path);
  try {
    const names = ['latents', 'samples'].filter((n) => file.has(n));
    if (names.length !== 1) {
      throw new UserError(names.length === 0
        ? `${path}: no tensor named latents or samples: give latents [N, ${c.latentChannels}, h, w] (ditto sample --out x.safetensors writes samples)`
        : `${path}: holds both latents and samples: keep the one to decode`);
    }
    const name = names[0];
    const { shape, dtype } = file.info(name);
    if (shape.length !== 4 || shape[1] !== c.latentChannels || shape.some((d) => d === 0)) {
      throw new UserError(`${path}: ${name} has shape ${shapeString(shape)}, but this VAE decodes latents [N, ${c.latentChannels}, h, w]`);
    }
    if (!WEIGHT_DTYPES.has(dtype)) throw new UserError(`${path}: ${name} is ${dtype}; latents are floating point (F32, F16, BF16 or F64)`);
    checkImageCount(shape[0], path);
    checkImageBytes(c, shape, path);
    const data = file.readF32(name);
    const bad = data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new UserError(`${path}: ${name} holds ${data[bad]} at element ${bad}: latents must be finite`);
    return { data, shape };
  } finally {
    file.close();
  }
}

/**
 * Loads the VAE at `vaePath` onto `backend` and decodes latents [N, C, h, w] with it (see
 * decodeLatents), with a progress bar; refuses non-finite images in one line.
 */
export async function decodeWithVae(
  vaePath: string, backend: Backend, latents: Float32Array, shape: readonly number[], scale: number,
): Promise<{ images: Float32Array; shape: number[] }> {
  const { config, weights } = loadVae(vaePath, backend);
  const bar = progress('decoding', shape[0]);
  const out = await decodeLatents(new VaeDecoder(config, weights), latents, shape, scale, (done) => bar.update(done));
  bar.stop();
  const bad = out.images.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    throw new UserError(`the decoder produced ${out.images[bad]} (image ${Math.floor(bad / (out.images.length / shape[0]))}): the latents are out of this VAE's range (is --scale right?); nothing was written`);
  }
  return out;
}

/** The images as a PNG grid, about square, mapped from [-1, 1]. */
export function writeImageGrid(path: string, images: Float32Array, shape: readonly number[], columns = Math.ceil(Math.sqrt(shape[0]))): void {
  writePng(path, grid(toImages(images, shape, [-1, 1]), columns));
}

export async function decodeCommand(argv: string[], io: CommandIo): Promise<void> {
  const flags = parseFlags(argv, {
    vae: { type: 'string' }, latents: { type: 'string' }, out: { type: 'string' }, scale: { type: 'string' },
    backend: { type: 'string' }, json: { type: 'boolean' },
  }, decodeUsage);
  const backendChoice = parseBackend(flags.string('backend'));
  const vaePath = flags.required('vae');
  const latentsPath = flags.required('latents');
  const out = flags.required('out');
  if (!/\.(png|safetensors)$/.test(out)) throw new UserError(`--out ${out}: give a .png image or a .safetensors file of images`);
  const scale = scaleFromFlags(flags);
  const inputs = [{ flag: '--vae', path: vaePath }, { flag: '--latents', path: latentsPath }];
  checkInputs(inputs);
  checkOutputs([{ flag: '--out', path: out }], inputs);
  const { config, layout } = inspectVae(vaePath);
  const latents = readLatents(latentsPath, config);

  const opened = await createBackend(backendChoice, io.info, { batch: latents.shape[0], emulatedWins: DECODE_ON_EMULATED });
  const backend = decodeBackend(opened, backendChoice, config, latents.shape, io.info);
  if (backend !== opened && opened instanceof WebGpuBackend) opened.dispose();
  const started = performance.now();
  const result = await decodeWithVae(vaePath, backend, latents.data, latents.shape, scale);
  if (out.endsWith('.png')) writeImageGrid(out, result.images, result.shape);
  else writeSafetensors(out, { images: { dtype: 'F32', shape: result.shape, data: result.images } }, { scale: String(scale) });
  const seconds = (performance.now() - started) / 1000;
  const summary = { out, backend: backend.name, layout, images: result.shape, scale, seconds };
  if (flags.bool('json')) io.print(formatJson(summary));
  else io.print(`wrote ${out}: ${result.shape[0]} image${result.shape[0] > 1 ? 's' : ''} of ${result.shape[2]}x${result.shape[3]} (${layout} VAE, scale ${scale}) in ${seconds.toFixed(2)} s on ${backend.name}`);
}
