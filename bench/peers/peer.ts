// The contract of a benchmark peer (bench/peers/*.ts): another library's matmul (and attention) on
// inputs it already holds, each run timed the library's own way. Peers are devDependencies, never
// needed by ditto itself, so each is imported only when a benchmark runs, and a missing one is not an
// error: it is a row saying how to install it.

/** How a run was timed (bench/kernels.ts explains each). */
export type Timing = 'timestamp' | 'tfjs-kernelMs' | 'wall-sync' | 'wall-readback' | 'wall';

/** One timed run of a peer's op, and how it was timed. */
export interface PeerRun {
  ms: number;
  timing: Timing;
}

/** An op of a peer library on inputs it already holds. */
export interface PeerOp {
  run(): Promise<PeerRun>;
  /** The result, row-major, for the error against our reference. */
  read(): Promise<Float32Array>;
  dispose(): void;
}

export interface Peer {
  /** What was loaded: package and version, as the benchmark's report names it. */
  version: string;
  /** y = x · w^T for x [M, K], w [N, K]. */
  matmul(x: Float32Array, w: Float32Array, m: number, k: number, n: number): PeerOp;
}

export interface AttentionPeer extends Peer {
  /** softmax(q k^T * scale) v over [BH, T, hd]. */
  attention(q: Float32Array, k: Float32Array, v: Float32Array, bh: number, t: number, hd: number, scale: number): PeerOp;
}

/** How a peer imports its packages: `import()`, or a stand-in (tests simulate a machine without them). */
export type Importer = (specifier: string) => Promise<unknown>;

export const importPackage: Importer = (specifier) => import(specifier);

/** A loaded peer (one with a matmul, or another library a benchmark runs), or one line saying why there is none. */
export type PeerResult<P extends { version: string }> = { peer: P; reason: null } | { peer: null; reason: string };

/**
 * Runs a peer's `load`. When one of its packages is missing, the reason names it and says how to
 * install `packages`; any other failure keeps the first line of its message.
 */
export async function loadPeer<P extends { version: string }>(packages: readonly string[], load: () => Promise<P>): Promise<PeerResult<P>> {
  try {
    return { peer: await load(), reason: null };
  } catch (e) {
    const message = String((e as Error)?.message ?? e).split('\n')[0];
    if ((e as { code?: string })?.code !== 'ERR_MODULE_NOT_FOUND') return { peer: null, reason: message };
    return { peer: null, reason: `${message.replace(/ imported from .*$/, '')} (npm install ${packages.join(' ')})` };
  }
}
