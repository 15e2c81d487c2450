// core/webgpu/polling.ts in a web page: the browser's GPU process tells the page when work is done,
// without the busy setImmediate polling Dawn's Node bindings need, so a wait is a plain await.

/** Awaits `work`; the same signature as Node's version. */
export async function gentle<T>(work: Promise<T> | (() => Promise<T>)): Promise<T> {
  return typeof work === 'function' ? work() : work;
}
