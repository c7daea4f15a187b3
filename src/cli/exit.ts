/**
 * Exit codes, the same for every command: 0 done, 1 failed (refused, not found, broken, store error),
 * 2 bad usage or configuration (an unknown option, a bad option value, a config that does not load).
 */
import { CommanderError, InvalidArgumentError } from 'commander';
import { ConfigError } from '../config/index.js';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** A command was given something it cannot use: a bad option value, a missing argument. Exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The exit code an error thrown by a command means. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
  return err instanceof UsageError || err instanceof ConfigError ? EXIT_USAGE : EXIT_FAILED;
}

/**
 * An option parser for commander: the value converted by `parse`, or commander's usage error (exit 2,
 * with the option named) when it throws.
 */
export function parsed<T>(parse: (value: string) => T): (value: string) => T {
  return (value) => {
    try {
      return parse(value);
    } catch (err) {
      throw new InvalidArgumentError(err instanceof Error ? err.message : String(err));
    }
  };
}

/** `--limit`-style whole numbers from `min` to `max`. */
export function wholeNumber(name: string, min: number, max: number): (value: string) => number {
  return parsed((value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`${name} must be a whole number from ${min} to ${max}`);
    return n;
  });
}

/** One of a fixed set of words. */
export function oneOf<T extends string>(name: string, values: readonly T[]): (value: string) => T {
  return parsed((value) => {
    if (!(values as readonly string[]).includes(value)) throw new UsageError(`${name} must be one of ${values.join(', ')}`);
    return value as T;
  });
}

/**
 * For commander's error output: an unknown option is named without what followed it (`--value=...`, `-v...`),
 * so a value someone tried to pass on the command line is not echoed to the terminal or a log as well.
 */
export function hideOptionValues(text: string): string {
  return text.replace(/unknown option '(--[^=']*)=[^']*'/g, "unknown option '$1=...'").replace(/unknown option '(-[^-'])[^']+'/g, "unknown option '$1...'");
}
