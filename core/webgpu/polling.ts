// Waiting for the GPU without spinning a CPU core.
//
// Dawn's Node bindings find out that GPU work has finished by calling wgpuInstanceProcessEvents from a
// setImmediate callback that re-arms itself for as long as any of their promises (mapAsync,
// onSubmittedWorkDone, popErrorScope) is pending (crbug.com/dawn/1127): while JavaScript awaits the
// GPU, the main thread runs at 100% of a core. On a real GPU that wastes a core; on a CPU-emulated
// adapter (lavapipe) it takes the core away from the emulated GPU: on a 2-core machine every kernel
// ran 1.5x slower while we waited for it (fused attention at 32x1024x72: 348 ms -> 230 ms).
//
// The bindings look the global setImmediate up on every tick, so while one of our waits is pending
// `gentle` swaps it for a version that, once the wait has lasted SPIN_MS, defers each callback by a
// 1 ms timer instead: short waits keep their latency, long ones poll a thousand times a second
// instead of continuously. Anything else that calls setImmediate in that window is only delayed (a
// timer that clearImmediate still cancels); the originals come back when the last wait ends.

import { clearTimeout as clearTimer, setTimeout as setTimer } from 'node:timers';
import { promisify } from 'node:util';

/** How long a wait polls at full speed before it backs off to a 1 ms timer. */
const SPIN_MS = 2;

let waiting = 0;
let since = 0;
let saved: { setImmediate: typeof setImmediate; clearImmediate: typeof clearImmediate } | null = null;
const deferred = new WeakSet<object>();

function install(): void {
  const original = { setImmediate: globalThis.setImmediate, clearImmediate: globalThis.clearImmediate };
  saved = original;
  since = performance.now();
  const throttled = (callback: (...args: unknown[]) => void, ...args: unknown[]) => {
    if (performance.now() - since < SPIN_MS) return original.setImmediate(callback, ...args);
    const timer = setTimer(callback, 1, ...args);
    deferred.add(timer);
    return timer;
  };
  // util.promisify(setImmediate) keeps working: it looks for this property.
  Object.defineProperty(throttled, promisify.custom, { value: (original.setImmediate as unknown as Record<symbol, unknown>)[promisify.custom] });
  globalThis.setImmediate = throttled as unknown as typeof setImmediate;
  globalThis.clearImmediate = ((handle: NodeJS.Immediate | NodeJS.Timeout | undefined) => {
    if (handle && deferred.has(handle)) clearTimer(handle as NodeJS.Timeout);
    else original.clearImmediate(handle as NodeJS.Immediate | undefined);
  }) as typeof clearImmediate;
}

function uninstall(): void {
  if (!saved) return;
  globalThis.setImmediate = saved.setImmediate;
  globalThis.clearImmediate = saved.clearImmediate;
  saved = null;
}

/** Awaits `work` (a promise that waits on Dawn) with Dawn's polling throttled as described above. */
export async function gentle<T>(work: Promise<T> | (() => Promise<T>)): Promise<T> {
  if (waiting++ === 0) install();
  try {
    return await (typeof work === 'function' ? work() : work);
  } finally {
    if (--waiting === 0) uninstall();
  }
}
