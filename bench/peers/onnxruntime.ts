// ONNX Runtime for Node (onnxruntime-node: native MLAS kernels behind a graph optimiser, the CPU
// execution provider), the peer a Node user would reach for to run an exported model. It runs an ONNX
// file of a DiT, made by tools/export_dit_onnx.py, on the same weights and inputs as ditto, with as
// many intra-op threads as ditto's CPU backend has.

import { createRequire } from 'node:module';
import { importPackage, loadPeer, type Importer, type PeerResult } from './peer.js';

type Ort = typeof import('onnxruntime-node');

/** A DiT's inputs as tools/export_dit_onnx.py names them: x [N, C, H, W], t [N] (float), y [N] (int64). */
export interface DiTFeeds {
  x: Float32Array;
  shape: readonly number[];
  t: readonly number[];
  y: readonly number[];
}

/** One session on one ONNX file and one set of inputs. */
export interface OnnxSession {
  /** One forward: the output `out`, row-major. */
  run(): Promise<Float32Array>;
  dispose(): Promise<void>;
}

export interface OnnxRuntime {
  version: string;
  session(path: string, feeds: DiTFeeds, threads: number): Promise<OnnxSession>;
}

export function loadOnnxRuntime(importer: Importer = importPackage): Promise<PeerResult<OnnxRuntime>> {
  return loadPeer(['onnxruntime-node'], async () => {
    const mod = (await importer('onnxruntime-node')) as Ort & { default?: Ort };
    const ort = mod.default ?? mod;
    const version = (createRequire(import.meta.url)('onnxruntime-node/package.json') as { version: string }).version;
    return {
      version: `onnxruntime-node ${version}`,
      async session(path, feeds, threads) {
        const session = await ort.InferenceSession.create(path, { executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1 });
        const n = feeds.shape[0];
        const inputs = {
          x: new ort.Tensor('float32', feeds.x, [...feeds.shape]),
          t: new ort.Tensor('float32', Float32Array.from(feeds.t), [n]),
          y: new ort.Tensor('int64', BigInt64Array.from(feeds.y, BigInt), [n]),
        };
        return {
          async run() {
            return (await session.run(inputs)).out.data as Float32Array;
          },
          dispose: () => session.release(),
        };
      },
    };
  });
}
