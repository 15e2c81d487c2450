// Progress for long commands: a bar (cli-progress) when stderr is a terminal, nothing otherwise, so
// logs and --json output stay clean.

import { SingleBar } from 'cli-progress';

export interface Progress {
  /** Whether a bar is on the screen (stderr is a terminal). */
  readonly shown: boolean;
  update(done: number, note?: string): void;
  stop(): void;
}

export function progress(label: string, total: number, enabled = process.stderr.isTTY === true): Progress {
  if (!enabled) return { shown: false, update() {}, stop() {} };
  const bar = new SingleBar({
    format: `${label} [{bar}] {value}/{total} {note} | {duration_formatted} elapsed, eta {eta_formatted}`,
    stream: process.stderr,
    hideCursor: true,
    clearOnComplete: true,
  });
  bar.start(total, 0, { note: '' });
  return {
    shown: true,
    update: (done, note = '') => bar.update(done, { note }),
    stop: () => bar.stop(),
  };
}
