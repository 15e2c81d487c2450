// The project's one plain-text table: every command and benchmark that prints columns prints them
// through formatTable, so they align the same way everywhere.

/**
 * A number as a table shows it: 12, -0.5, 1.2e-7, 3/4, "44,37,30", 8.9x, 12%; or "-" or "" for none.
 * Not a shape like 512x384x1152, which reads left to right.
 */
const NUMBER = /^(?:-?|[-+]?\d[\d.,/ ]*(?:e[-+]?\d+)?[x%]?)$/;

/** A plain-text table with aligned columns (numbers right-aligned), a dashed rule under the headers. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const numeric = headers.map((_, c) => rows.length > 0 && rows.every((r) => NUMBER.test(r[c] ?? '')));
  const line = (cells: readonly string[]) =>
    cells.map((cell, c) => (numeric[c] ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ').trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
