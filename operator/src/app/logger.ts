/**
 * The operator's log output: one JSON object per line on stderr, which every cluster log
 * pipeline parses without configuration. An interface, so tests can capture or silence it.
 */
export interface Logger {
  info(message: string, fields?: Readonly<Record<string, unknown>>): void;
  warn(message: string, fields?: Readonly<Record<string, unknown>>): void;
  error(message: string, fields?: Readonly<Record<string, unknown>>): void;
}

export function jsonLogger(write: (line: string) => void = (line) => process.stderr.write(line)): Logger {
  const log =
    (level: string) =>
    (message: string, fields: Readonly<Record<string, unknown>> = {}): void => {
      const entry: Record<string, unknown> = { time: new Date().toISOString(), level, msg: message };
      for (const [key, value] of Object.entries(fields)) entry[key] = describe(value);
      write(`${JSON.stringify(entry)}\n`);
    };
  return { info: log('info'), warn: log('warn'), error: log('error') };
}

export const silentLogger: Logger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** Errors serialise to `{}` by default: keep their name, message and the cause chain's messages. */
function describe(value: unknown): unknown {
  if (!(value instanceof Error)) return value;
  const parts: string[] = [];
  let current: unknown = value;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    parts.push(`${current.name}: ${current.message}`);
    current = current.cause;
  }
  return parts.join(' <- ');
}
