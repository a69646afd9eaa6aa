/** Structured log levels, lowest first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** A structured logger: every line is one JSON object with `level`, `msg`, `time` and the bound fields. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** A logger that adds `fields` to every line (e.g. eventId, correlationId, pluginId). */
  child(fields: Record<string, unknown>): Logger;
}

/** Writes JSON lines to a sink (stderr by default) at or above `level`. */
export function createLogger(
  options: { level?: LogLevel; sink?: (line: string) => void; fields?: Record<string, unknown> } = {},
): Logger {
  const min = LEVELS[options.level ?? 'info'];
  const sink = options.sink ?? ((line: string) => process.stderr.write(line + '\n'));
  const bound = options.fields ?? {};
  const emit = (level: LogLevel, msg: string, fields?: Record<string, unknown>): void => {
    if (LEVELS[level] < min) return;
    sink(JSON.stringify({ level, time: new Date().toISOString(), msg, ...bound, ...fields }, errorReplacer));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger({ level: options.level ?? 'info', sink, fields: { ...bound, ...fields } }),
  };
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    const coded = value as Error & { code?: unknown };
    return { name: value.name, message: value.message, ...(coded.code === undefined ? {} : { code: coded.code }) };
  }
  return value;
}

/** A logger that drops everything; the default in tests and libraries. */
export const silentLogger: Logger = createLogger({ sink: () => undefined });
