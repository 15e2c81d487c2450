// A pool of GPU buffers, reused by size class.
//
// A DiT forward creates and frees hundreds of intermediate tensors, and a sampling loop repeats the same
// forward: creating a GPUBuffer per tensor would make the driver allocate (and zero) memory hundreds of
// times per step. Instead a released buffer goes back to a free list keyed by its size class, and the
// next tensor of that class takes it. Classes are powers of two split into quarters (256 B, 320 B,
// 384 B, 448 B, 512 B, 640 B, ...), so a buffer is at most 25% larger than asked for and a tensor of a
// slightly different size can still reuse it. Near the device's limit a class may be larger than
// any buffer the device allows (a tensor of 3.5 GiB under a 4 GiB - 4 binding limit rounds to 4 GiB):
// there the buffer is cut to the limit.
//
// Reuse is safe with respect to the GPU because everything that touches buffers is ordered: dispatches
// recorded into one command encoder run in recording order, and submissions run in submission order.
// The one exception is queue.writeBuffer (upload), which lands before any work that is still being
// recorded: an upload takes a buffer the current recording has not released where the pool has one
// (`avoid`), and the backend flushes before writing into one it has (see `releasedInBatch`).

/** The smallest class holding `bytes`: a power of two or 1.25, 1.5, 1.75 times one, at least 256 B. */
export function sizeClass(bytes: number): number {
  if (bytes <= 256) return 256;
  const pow = 2 ** Math.floor(Math.log2(bytes));
  const step = pow / 4;
  return Math.ceil(bytes / step) * step;
}

export interface PooledBuffer {
  buffer: GPUBuffer;
  /** The buffer's size in bytes: its size class. */
  size: number;
  /** Which recording (batch of commands) released it last; -1 if never used. */
  releasedInBatch: number;
}

export interface PoolStats {
  /** Buffers created on the device since the start. */
  created: number;
  /** Requests served from the free lists. */
  reused: number;
  /** Bytes in buffers currently in use by tensors. */
  liveBytes: number;
  /** Bytes in buffers waiting on the free lists. */
  freeBytes: number;
}

export class BufferPool {
  private readonly free = new Map<number, PooledBuffer[]>();
  readonly stats: PoolStats = { created: 0, reused: 0, liveBytes: 0, freeBytes: 0 };

  constructor(
    private readonly create: (size: number) => GPUBuffer,
    /** The largest buffer to create (bytes, a multiple of 4); callers never ask for more. */
    private readonly maxSize = Infinity,
  ) {}

  /** A buffer of at least `bytes`; with `avoid`, preferably one not released in that batch. */
  acquire(bytes: number, avoid?: number): PooledBuffer {
    const size = Math.min(sizeClass(bytes), this.maxSize);
    const list = this.free.get(size);
    let at = list ? list.length - 1 : -1;
    if (avoid !== undefined) while (at >= 0 && list![at].releasedInBatch === avoid) at--;
    const reused = at >= 0 ? list!.splice(at, 1)[0] : list?.pop();
    this.stats.liveBytes += size;
    if (reused) {
      this.stats.reused++;
      this.stats.freeBytes -= size;
      return reused;
    }
    this.stats.created++;
    return { buffer: this.create(size), size, releasedInBatch: -1 };
  }

  release(b: PooledBuffer, batch: number): void {
    b.releasedInBatch = batch;
    this.stats.liveBytes -= b.size;
    this.stats.freeBytes += b.size;
    let list = this.free.get(b.size);
    if (!list) this.free.set(b.size, (list = []));
    list.push(b);
  }

  /** Destroys every free buffer (their memory returns to the driver at once). */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.buffer.destroy();
    this.free.clear();
    this.stats.freeBytes = 0;
  }
}
