import fs from 'node:fs';
import readline from 'node:readline';
import zlib from 'node:zlib';
import type { Readable } from 'node:stream';
import { InputError } from '../errors.js';

/** Where a data file came from, for error messages: the config field that named it. */
export interface FileOrigin {
  /** Config path of the option, e.g. `"data.dataset.path"`. */
  field?: string;
  /** The value as written in the config, when it differs from the resolved path. */
  given?: string;
}

/**
 * Throws a clear error unless `file` is a readable regular file: it names the resolved path,
 * the config field and the value as written.
 */
export function assertReadableFile(file: string, origin: FileOrigin = {}): void {
  const field = origin.field ?? 'path';
  const given = origin.given !== undefined && origin.given !== file ? ` (given as "${origin.given}")` : '';
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    throw new InputError(`${field}: data file not found: ${file}${given}`);
  }
  if (!stat.isFile()) throw new InputError(`${field}: ${file}${given} is not a file`);
  try {
    fs.accessSync(file, fs.constants.R_OK);
  } catch (err) {
    throw new InputError(`${field}: ${file}${given} is not readable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** Opens a file as a byte stream, gunzipping it when its name ends in `.gz`. */
export function openDataStream(file: string): Readable {
  const raw = fs.createReadStream(file);
  if (!file.toLowerCase().endsWith('.gz')) return raw;
  const gunzip = zlib.createGunzip();
  raw.on('error', (err) => gunzip.destroy(err));
  return raw.pipe(gunzip);
}

/** One line of a text file, numbered from 1 as an editor shows it. */
export interface NumberedLine {
  line: number;
  text: string;
}

/**
 * Streams a UTF-8 text file (optionally `.gz`) line by line: numbered from 1, without the line
 * ending (`\n` or `\r\n`) and without a leading byte-order mark. Checks the file first
 * ({@link assertReadableFile}).
 */
export async function* readLines(file: string, origin: FileOrigin = {}): AsyncGenerator<NumberedLine> {
  assertReadableFile(file, origin);
  const input = openDataStream(file);
  input.setEncoding('utf8');
  const rl = readline.createInterface({ input, crlfDelay: Infinity });
  let line = 0;
  try {
    for await (const raw of rl) {
      line += 1;
      yield { line, text: line === 1 && raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw };
    }
  } finally {
    rl.close();
    input.destroy();
  }
}
