import { DecodeError } from '@meshguard/core';

/**
 * A wg-quick file that does not parse. The message starts with `line N:` for people; `line`
 * carries N for programs (an editor jump, a CLI that quotes the line), and is null only when
 * the file as a whole is at fault (too large, not UTF-8, no [Interface]).
 */
export class QuickConfigError extends DecodeError {
  readonly line: number | null;
  constructor(message: string, line: number | null, options?: ErrorOptions) {
    super(line === null ? message : `line ${line}: ${message}`, options);
    this.line = line;
  }
}
