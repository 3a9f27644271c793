import { ArgumentError, DecodeError } from '@meshguard/core';

/**
 * Message framing of the WireGuard cross-platform userspace API (wireguard.com/xplatform), the
 * text protocol on /var/run/wireguard/<iface>.sock. A request is `get=1` or `set=1` followed by
 * `key=value` lines and an empty line; a response is `key=value` lines, `errno=N` and an empty
 * line. Bytes arrive in arbitrary pieces from a stream socket, so the readers here take a
 * buffer and return null until a whole message is in it.
 */

/**
 * A peer's entry is about 250 bytes in a get response, so this holds ~16 000 peers. The bound
 * is what keeps a client that never sends the empty line from growing our buffer forever.
 */
export const MAX_UAPI_MESSAGE_BYTES = 4 << 20;

/**
 * The errno values wireguard-go answers with. They are negative: `wg set` reads the number and
 * negates it to get errno, so -22 shows as "Invalid argument". (`wg show` only accepts
 * non-negative numbers and reports anything else as a protocol error, which is still an error.)
 */
export const UAPI_ERRNO = {
  ok: 0,
  io: -5,
  invalid: -22,
  protocol: -71,
  portInUse: -98,
  unknown: -55,
} as const;

export type UapiRequest =
  | { readonly command: 'get' }
  /** The `key=value` lines between `set=1` and the empty line. */
  | { readonly command: 'set'; readonly lines: readonly string[] };

export interface UapiResponse {
  /** The `key=value` lines before `errno=`; empty for a set response. */
  readonly lines: readonly string[];
  readonly errno: number;
}

export interface Taken<T> {
  readonly message: T;
  /** What follows the message in the buffer: the start of the next one. */
  readonly rest: string;
}

const ERRNO_LINE = /^errno=(0|-?[1-9][0-9]{0,9})$/;
// One line of the protocol: printable ASCII. Anything else is a client speaking another protocol.
const NON_PROTOCOL = /[^\u0020-\u007e]/;

/** The next whole request in `buffer`, or null if more bytes are needed. DecodeError if malformed. */
export function takeUapiRequest(buffer: string): Taken<UapiRequest> | null {
  const firstEnd = buffer.indexOf('\n');
  if (firstEnd === -1) {
    checkIncomplete(buffer, 'request');
    return null;
  }
  const command = buffer.slice(0, firstEnd);
  if (command === 'get=1') {
    // wireguard-go refuses anything but the empty line after get=1.
    if (buffer.length === firstEnd + 1) return null;
    if (buffer[firstEnd + 1] !== '\n') throw new DecodeError('UAPI get=1 must be followed by an empty line');
    return { message: { command: 'get' }, rest: buffer.slice(firstEnd + 2) };
  }
  if (command !== 'set=1') throw new DecodeError(`UAPI request: unknown command "${truncate(command)}"`);
  const body = takeLinesUntilEmpty(buffer, firstEnd + 1, 'request');
  if (body === null) return null;
  return { message: { command: 'set', lines: body.lines }, rest: buffer.slice(body.end) };
}

export function formatUapiRequest(request: UapiRequest): string {
  if (request.command === 'get') return 'get=1\n\n';
  return `set=1\n${request.lines.map((l) => `${checkLine(l)}\n`).join('')}\n`;
}

/** The next whole response in `buffer`, or null if more bytes are needed. DecodeError if malformed. */
export function takeUapiResponse(buffer: string): Taken<UapiResponse> | null {
  const body = takeLinesUntilEmpty(buffer, 0, 'response');
  if (body === null) return null;
  const last = body.lines[body.lines.length - 1];
  const match = last === undefined ? null : ERRNO_LINE.exec(last);
  if (match === null) throw new DecodeError('UAPI response: does not end with errno=N');
  const errno = Number(match[1]);
  if (!Number.isSafeInteger(errno) || Math.abs(errno) > 0x7fffffff) {
    throw new DecodeError('UAPI response: errno out of range');
  }
  return { message: { lines: body.lines.slice(0, -1), errno }, rest: buffer.slice(body.end) };
}

/** `lines`, then `errno=N` and the empty line that ends every response. */
export function formatUapiResponse(response: UapiResponse): string {
  if (!Number.isInteger(response.errno) || Math.abs(response.errno) > 0x7fffffff) {
    throw new ArgumentError(`UAPI errno must be a 32-bit integer, got ${response.errno}`);
  }
  return `${response.lines.map((l) => `${checkLine(l)}\n`).join('')}errno=${response.errno}\n\n`;
}

/** Lines from `start` up to an empty line; null when the empty line has not arrived yet. */
function takeLinesUntilEmpty(
  buffer: string,
  start: number,
  what: string,
): { readonly lines: string[]; readonly end: number } | null {
  const lines: string[] = [];
  let pos = start;
  for (;;) {
    const end = buffer.indexOf('\n', pos);
    if (end === -1) {
      checkIncomplete(buffer, what);
      return null;
    }
    if (end > MAX_UAPI_MESSAGE_BYTES) throw tooLarge(what);
    const line = buffer.slice(pos, end);
    if (line === '') return { lines, end: end + 1 };
    if (NON_PROTOCOL.test(line)) throw new DecodeError(`UAPI ${what}: line ${lines.length + 1} is not printable ASCII`);
    lines.push(line);
    pos = end + 1;
  }
}

function checkIncomplete(buffer: string, what: string): void {
  if (buffer.length > MAX_UAPI_MESSAGE_BYTES) throw tooLarge(what);
}

function tooLarge(what: string): DecodeError {
  return new DecodeError(`UAPI ${what}: larger than ${MAX_UAPI_MESSAGE_BYTES} bytes`);
}

/** A line we write must not end the message early or smuggle in another. */
function checkLine(line: string): string {
  if (line === '' || NON_PROTOCOL.test(line)) {
    throw new ArgumentError(`UAPI line must be non-empty printable ASCII: "${truncate(line)}"`);
  }
  return line;
}

function truncate(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
