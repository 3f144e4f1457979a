import type { ParseArgsConfig } from 'node:util';
import type { Api } from './api';

/** A mistake the user can fix: printed as `error: <message>`, exit code 1, no stack. */
export class CliError extends Error {
  override name = 'CliError';
}

export type Options = NonNullable<ParseArgsConfig['options']>;
export type Values = Record<string, string | boolean | undefined>;

/** What a command gets: its parsed flags, its positional arguments, the API and the output. */
export interface CommandContext {
  values: Values;
  args: string[];
  api: Api;
  /** Prints the API's answer as JSON with --json, else `render()`'s text. */
  emit(result: unknown, render: () => string): void;
  /** A note for the person (stderr), kept out of piped output. */
  warn(text: string): void;
}

export interface Command {
  /** Arguments and flags after `<group> <action>`, as the help shows them. */
  usage: string;
  summary: string;
  options?: Options;
  /** Names of the required positional arguments, e.g. ['ID']. */
  args?: string[];
  run(ctx: CommandContext): Promise<void>;
}

/** One group of commands (`accounts`, `keys`, ...), keyed by action. */
export type CommandGroup = Record<string, Command>;

const str = { type: 'string' } as const;
export const flag = { string: str, boolean: { type: 'boolean' } as const };

/** A required string flag. */
export function required(values: Values, name: string): string {
  const value = values[name];
  if (typeof value !== 'string' || value === '') throw new CliError(`--${name} is required`);
  return value;
}

export function optionalString(values: Values, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

/** An optional whole-number flag (credits, rpm, priority...). */
export function integer(values: Values, name: string): number | undefined {
  const value = values[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^-?\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new CliError(`--${name} must be a whole number, got ${JSON.stringify(value)}`);
  }
  return Number(value);
}

export function requiredInteger(values: Values, name: string): number {
  const value = integer(values, name);
  if (value === undefined) throw new CliError(`--${name} is required`);
  return value;
}

/** `a,b,c` as a list, blanks dropped. */
export function list(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  return value.split(',').map((item) => item.trim()).filter(Boolean);
}

/** `name=value,name=value` as an object; `parse` turns each value into what the API wants. */
export function pairs<T>(value: string, what: string, parse: (raw: string, name: string) => T): Record<string, T> {
  const out: Record<string, T> = {};
  for (const item of list(value) ?? []) {
    const at = item.indexOf('=');
    if (at <= 0) throw new CliError(`${what}: expected name=value, got ${JSON.stringify(item)}`);
    out[item.slice(0, at).trim()] = parse(item.slice(at + 1).trim(), item.slice(0, at).trim());
  }
  return out;
}
