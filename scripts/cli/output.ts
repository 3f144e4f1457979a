/** Plain-text output: aligned tables and `name  value` records, nothing fancy. */

type Cell = string | number | boolean | null | undefined | object;

export function cell(value: Cell): string {
  if (value === null || value === undefined || value === '') return '-';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** A table with a header row; columns are [header, value of a row]. */
export function table<T>(rows: T[], columns: [string, (row: T) => Cell][]): string {
  if (rows.length === 0) return '(none)';
  const lines = [columns.map(([header]) => header), ...rows.map((row) => columns.map(([, get]) => cell(get(row))))];
  const widths = columns.map((_, i) => Math.max(...lines.map((line) => line[i]!.length)));
  return lines.map((line) => line.map((text, i) => (i === line.length - 1 ? text : text.padEnd(widths[i]!))).join('  ')).join('\n');
}

/** One object as aligned `name  value` lines, in the order given (or the object's own). */
export function record(value: Record<string, Cell>, fields: string[] = Object.keys(value)): string {
  const width = Math.max(...fields.map((f) => f.length));
  return fields.map((field) => `${field.padEnd(width)}  ${cell(value[field])}`).join('\n');
}

/** Unix seconds or an ISO string as `YYYY-MM-DD HH:MM:SS` UTC. */
export function time(value: number | string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  const date = typeof value === 'number' ? new Date(value * 1000) : new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toISOString().replace('T', ' ').slice(0, 19);
}
