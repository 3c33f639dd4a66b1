/**
 * The client's logger. Its fields accept only numbers, booleans and error
 * codes, so plaintext, keys, user ids and envelope ids cannot reach the
 * console through it. It writes nothing unless a sink is installed, which
 * tests and debugging sessions do.
 */
export type LogLevel = 'info' | 'warn' | 'error';

export type LogFields = Readonly<Record<string, number | boolean>>;

export type LogSink = (
  level: LogLevel,
  module: string,
  event: string,
  fields: LogFields,
) => void;

let sink: LogSink | undefined;

export function setLogSink(next: LogSink | undefined): void {
  sink = next;
}

/** Returns a stable, non-identifying code for an error, for log lines. */
export function errorCode(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    if (typeof code === 'string' && /^[a-z][a-z-]{0,40}$/.test(code)) {
      return code;
    }
  }
  if (error instanceof Error && /^[A-Za-z]{1,40}$/.test(error.name)) {
    return error.name;
  }
  return 'unknown';
}

export interface Logger {
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  /** Logs a caught error by its code only. */
  error(event: string, error: unknown, fields?: LogFields): void;
}

export function createLogger(module: string): Logger {
  return {
    info: (event, fields = {}) => sink?.('info', module, event, fields),
    warn: (event, fields = {}) => sink?.('warn', module, event, fields),
    error: (event, error, fields = {}) =>
      sink?.('error', module, `${event} (${errorCode(error)})`, fields),
  };
}
