/**
 * Line-by-line reading of text files with two guarantees readline lacks: a line longer than a limit is refused
 * before it is held in memory (so one huge line cannot exhaust a worker's heap), and the text must be UTF-8
 * (a bad byte is reported with its line and column instead of becoming U+FFFD).
 */
import { createReadStream } from 'node:fs';

export interface Line {
  /** 1-based. */
  number: number;
  text: string;
}

export class LineError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly reason: 'too_long' | 'not_utf8',
    message: string,
  ) {
    super(message);
    this.name = 'LineError';
  }
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Yields the lines of `file` (without their "\n" and a trailing "\r"). `onBytes` sees every chunk read, e.g. to
 * hash the file in the same pass.
 */
export async function* readLines(file: string, maxLineBytes: number, onBytes?: (chunk: Buffer) => void): AsyncGenerator<Line> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let number = 0;
  const finish = (tail: Buffer): Line => {
    const bytes = pending.length === 0 ? tail : Buffer.concat([...pending, tail]);
    pending = [];
    pendingBytes = 0;
    number++;
    return { number, text: decodeLine(file, number, bytes) };
  };
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    onBytes?.(chunk);
    let start = 0;
    for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
      if (pendingBytes + (nl - start) > maxLineBytes) throw tooLong(file, number + 1, maxLineBytes);
      yield finish(chunk.subarray(start, nl));
      start = nl + 1;
    }
    const rest = chunk.subarray(start);
    pendingBytes += rest.length;
    if (pendingBytes > maxLineBytes) throw tooLong(file, number + 1, maxLineBytes);
    if (rest.length > 0) pending.push(rest);
  }
  if (pendingBytes > 0) yield finish(Buffer.alloc(0));
}

function tooLong(file: string, line: number, limit: number): LineError {
  return new LineError(file, line, 'too_long', `${file} line ${line}: longer than the limit of ${formatBytes(limit)}`);
}

function decodeLine(file: string, line: number, bytes: Buffer): string {
  const end = bytes.length > 0 && bytes[bytes.length - 1] === 13 ? bytes.length - 1 : bytes.length;
  const body = bytes.subarray(0, end);
  try {
    return decoder.decode(body);
  } catch {
    const bad = firstInvalidUtf8(body);
    const column = [...decoder.decode(body.subarray(0, bad))].length + 1;
    const byte = body[bad]!.toString(16).padStart(2, '0');
    throw new LineError(file, line, 'not_utf8', `${file} line ${line}, column ${column}: not UTF-8 (byte 0x${byte})`);
  }
}

/** Index of the first byte that does not start or continue a well-formed UTF-8 sequence. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    const [len, min, max] =
      b < 0x80 ? [1, 0, 0] : b >= 0xc2 && b <= 0xdf ? [2, 0x80, 0xbf] : b === 0xe0 ? [3, 0xa0, 0xbf] : b === 0xed ? [3, 0x80, 0x9f]
        : b >= 0xe1 && b <= 0xef ? [3, 0x80, 0xbf] : b === 0xf0 ? [4, 0x90, 0xbf] : b >= 0xf1 && b <= 0xf3 ? [4, 0x80, 0xbf]
          : b === 0xf4 ? [4, 0x80, 0x8f] : [0, 0, 0];
    if (len === 0) return i;
    if (len > 1) {
      // The second byte has a narrower range for some leads (no overlongs, no surrogates, nothing above U+10FFFF).
      if (i + 1 >= bytes.length || bytes[i + 1]! < min || bytes[i + 1]! > max) return i;
      for (let k = 2; k < len; k++) if (i + k >= bytes.length || (bytes[i + k]! & 0xc0) !== 0x80) return i;
    }
    i += len;
  }
  return bytes.length;
}

export function formatBytes(n: number): string {
  if (n >= 1 << 20 && n % (1 << 20) === 0) return `${n / (1 << 20)} MiB`;
  if (n >= 1 << 10 && n % (1 << 10) === 0) return `${n / (1 << 10)} KiB`;
  return `${n} bytes`;
}
