// What `--json` prints. Every command's JSON uses snake_case keys; the engine's own objects use
// camelCase fields (TypeScript's convention), so keys are converted here, at the CLI boundary, once.

/**
 * A camelCase identifier (`subgroupSizes`, `fooBar2`): converted. Other keys are data, not field
 * names (`tfjs-webgpu`, `DiT-S/2`, `0`), and stay as they are.
 */
const CAMEL = /^[a-z][a-z0-9]*(?:[A-Z][a-z0-9]*)+$/;

/** The value with every camelCase key of its plain objects, at any depth, in snake_case. */
export function toSnakeCaseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toSnakeCaseKeys);
  if (value === null || typeof value !== 'object') return value;
  const proto = Object.getPrototypeOf(value);
  // Typed arrays, Maps, Dates...: JSON.stringify has its own rules for them.
  if (proto !== Object.prototype && proto !== null) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [
    CAMEL.test(k) ? k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) : k,
    toSnakeCaseKeys(v),
  ]));
}

/** The text `--json` prints for `value`: snake_case keys, indented. */
export function formatJson(value: unknown): string {
  return JSON.stringify(toSnakeCaseKeys(value), null, 2);
}
