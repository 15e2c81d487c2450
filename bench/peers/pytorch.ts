// PyTorch on the CPU, in a Python process (python3 with torch: Debian's python3-torch), as the DiT
// forward's peers need it:
//   exportDiT     tools/export_dit_onnx.py writes the ONNX file ONNX Runtime runs, the same weights as
//                 safetensors for ditto, and the inputs with PyTorch's output, so all three run one
//                 model on one batch and their outputs can be compared;
//   servePyTorch  tools/time_dit.py --serve runs one forward of that model per request, so that
//                 Benchmark.js times PyTorch as it times ditto and ONNX Runtime (a request's trip
//                 through the pipe adds well under a millisecond to a forward of tenths of a second).
// Either says in one line why it cannot run: no python3, no torch, the script missing.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The python3 that has torch: DITTO_PYTHON, else Debian's. */
function python(): string {
  return process.env.DITTO_PYTHON ?? '/usr/bin/python3';
}

/** tools/<name> at the package root (dist/bench/peers/ -> tools/; the package ships it), or why not. */
function tool(name: string): { path: string } | { unavailable: string } {
  const path = fileURLToPath(new URL(`../../../tools/${name}`, import.meta.url));
  return existsSync(path) ? { path } : { unavailable: `${path} is missing (it comes with ditto: reinstall it)` };
}

/** One line from a Python run that failed: its last line of stderr, and how to get torch. */
function failure(stderr: string): string {
  return `${stderr.trim().split('\n').at(-1) || 'failed'} (apt-get install python3-torch)`;
}

export interface ExportedDiT {
  torch: string;
  /** The ONNX file, the weights (safetensors, official layout) and x, t, y with PyTorch's `out`. */
  onnx: string;
  weights: string;
  io: string;
}

/** tools/export_dit_onnx.py --model `model` into `dir`. */
export function exportDiT(model: string, dir: string): ExportedDiT | { unavailable: string } {
  const script = tool('export_dit_onnx.py');
  if (!('path' in script)) return script;
  const r = spawnSync(python(), [script.path, '--model', model, '--out-dir', dir], { encoding: 'utf8' });
  if (r.error) return { unavailable: `${python()} not found (${r.error.message})` };
  if (r.status !== 0) return { unavailable: failure(r.stderr) };
  const { torch, onnx, weights, io } = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as ExportedDiT;
  return { torch, onnx, weights, io };
}

export interface TorchServer {
  /** torch's version and threads, as the Python process reports them. */
  version: string;
  threads: number;
  /** One forward of the model on its inputs. */
  forward(): Promise<void>;
  close(): void;
}

/** A Python process that runs `model`'s forward (tools/time_dit.py's, after its warm-up) per request. */
export async function servePyTorch(model: string, threads: number, warmup: number): Promise<TorchServer | { unavailable: string }> {
  const script = tool('time_dit.py');
  if (!('path' in script)) return script;
  const child = spawn(python(), [script.path, '--serve', '--model', model, '--threads', String(threads), '--warmup', String(warmup)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  /** Waiters for the next lines of stdout, in order. */
  const waiting: { resolve: (line: string) => void; reject: (e: Error) => void }[] = [];
  let buffered = '';
  let ended: Error | null = null;
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    buffered += s;
    for (let i = buffered.indexOf('\n'); i >= 0; i = buffered.indexOf('\n')) {
      const line = buffered.slice(0, i);
      buffered = buffered.slice(i + 1);
      waiting.shift()?.resolve(line);
    }
  });
  const end = (e: Error) => {
    ended ??= e;
    for (const w of waiting.splice(0)) w.reject(ended);
  };
  child.on('error', (e) => end(new Error(`${python()} not found (${e.message})`)));
  child.on('close', () => end(new Error(failure(stderr))));
  const line = () => new Promise<string>((resolve, reject) => (ended ? reject(ended) : waiting.push({ resolve, reject })));
  let info: { torch: string; threads: number };
  try {
    info = JSON.parse(await line());
  } catch (e) {
    child.kill();
    return { unavailable: (e as Error).message };
  }
  return {
    version: `torch ${info.torch}`,
    threads: info.threads,
    async forward() {
      child.stdin.write('run\n');
      if ((await line()) !== 'ok') throw new Error('tools/time_dit.py --serve: unexpected answer');
    },
    close() {
      child.stdin.end();
    },
  };
}
