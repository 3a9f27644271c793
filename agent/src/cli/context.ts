/** Everything a command touches outside its arguments, injectable so tests run in-process. */
export interface CliContext {
  readonly configDir: string;
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  /** Unix seconds. */
  readonly now: () => bigint;
  /** Reads all of stdin (for `-` arguments). */
  readonly readStdin: () => Uint8Array;
}

export type CommandHandler = (args: readonly string[], ctx: CliContext) => void;
/** Long-running commands (`wg up`) and those that talk to a daemon. */
export type AsyncCommandHandler = (args: readonly string[], ctx: CliContext) => Promise<void>;
