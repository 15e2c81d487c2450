// core/host.ts in a web page.

/**
 * A page cannot see the machine's memory (navigator.deviceMemory is capped at 8 GiB on purpose). It
 * needs no bound either: its checkpoint is already in memory, fetched whole, and the reader checks
 * every declared tensor against those bytes.
 */
export function memoryBytes(): number {
  return Number.POSITIVE_INFINITY;
}

/** A page has no environment: every DITTO_* setting takes its default. */
export function envVar(_name: string): string | undefined {
  return undefined;
}
