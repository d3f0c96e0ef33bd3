/**
 * Reading and writing the safetensors format (Hugging Face's weight files) on the host.
 *
 * Layout of a file: 8 bytes little-endian u64 `N`, then `N` bytes of UTF-8 JSON header
 * `{ name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: { key: string } }`,
 * then the raw little-endian tensor bytes; offsets are relative to the first byte after the header.
 *
 * Floating tensors are always decoded to Float32Array on read (F16/BF16 widened exactly); the record keeps the
 * dtype the file stored so a caller can tell what precision the weights had. Integer tensors decode to Int32Array
 * (I64 values must fit in int32, which holds for every id/position tensor a checkpoint carries).
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

/** Element types this module reads and writes. */
export type SafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'I32' | 'I64';

/** The dtypes accepted in a file, in the order they are reported in errors. */
const SUPPORTED_DTYPES: readonly SafetensorsDtype[] = ['F32', 'F16', 'BF16', 'I32', 'I64'];

/**
 * A tensor held in host memory.
 * `dtype` is the element type stored in (or to be written to) the file; `data` is always the widened host form:
 * Float32Array for F32/F16/BF16, Int32Array for I32/I64. `data.length` equals the product of `shape`.
 */
export interface HostTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array | Int32Array;
}

/** One header entry, as found in the file. */
interface SafetensorsEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** Parsed header of a safetensors file. */
interface SafetensorsHeader {
  /** Byte offset of the data section from the start of the file (8 + header length). */
  dataStart: number;
  entries: Map<string, SafetensorsEntry>;
  metadata: Record<string, string>;
}

/** Options for {@link writeSafetensors}. */
interface WriteSafetensorsOptions {
  /**
   * Element type for floating tensors: 'F32' (default) writes every float tensor as float32;
   * 'keep' writes each in the dtype its record names (F16/BF16 are rounded to nearest even).
   */
  floatDtype?: 'F32' | 'keep';
}

const ITEM_SIZE: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2, I32: 4, I64: 8 };
/** Headers larger than this are rejected as corrupt (the reference implementation uses 100 MB). */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

function isSupported(dtype: string): dtype is SafetensorsDtype {
  return (SUPPORTED_DTYPES as readonly string[]).includes(dtype);
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

// ---------------------------------------------------------------------------------------------- half floats ---

/** Decodes one IEEE 754 binary16 value. */
export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // subnormal or zero
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** Encodes a number as IEEE 754 binary16 (round to nearest even, overflow to Inf). */
export function f32ToF16(v: number): number {
  f32Scratch[0] = v;
  const x = u32Scratch[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf or NaN
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow
  if (e <= 0) {
    if (e < -10) return sign; // underflow to zero
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let r = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    if (rem > half || (rem === half && r & 1)) r += 1;
    return sign | r;
  }
  let r = mant >> 13;
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && r & 1)) {
    r += 1;
    if (r === 0x400) {
      r = 0;
      e += 1;
      if (e >= 0x1f) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | r;
}

/** Encodes a number as bfloat16 (upper 16 bits of float32, round to nearest even; NaN stays NaN). */
export function f32ToBf16(v: number): number {
  f32Scratch[0] = v;
  const x = u32Scratch[0]!;
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return ((x >>> 16) | 0x40) & 0xffff;
  const rounded = x + 0x7fff + ((x >>> 16) & 1);
  return (rounded >>> 16) & 0xffff;
}

// ------------------------------------------------------------------------------------------------- decoding ---

function decode(file: string, name: string, dtype: SafetensorsDtype, bytes: Uint8Array, n: number): Float32Array | Int32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'F32': {
      if (LITTLE_ENDIAN_HOST && bytes.byteOffset % 4 === 0) {
        return new Float32Array(bytes.buffer, bytes.byteOffset, n); // the buffer was read for this tensor alone
      }
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
      return out;
    }
    case 'F16': {
      const table = f16Table();
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = table[view.getUint16(i * 2, true)]!;
      return out;
    }
    case 'BF16': {
      const out = new Float32Array(n);
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) u[i] = view.getUint16(i * 2, true) << 16;
      return out;
    }
    case 'I32': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getInt32(i * 4, true);
      return out;
    }
    case 'I64': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = view.getBigInt64(i * 8, true);
        if (v > 2147483647n || v < -2147483648n) {
          throw new Error(
            `safetensors ${file}: tensor "${name}" (I64) holds ${v} at index ${i}, outside int32; ` +
              'only I64 values that fit in int32 can be loaded',
          );
        }
        out[i] = Number(v);
      }
      return out;
    }
  }
}

let f16Lookup: Float32Array | undefined;
function f16Table(): Float32Array {
  if (!f16Lookup) {
    f16Lookup = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Lookup[h] = f16ToF32(h);
  }
  return f16Lookup;
}

// -------------------------------------------------------------------------------------------------- reading ---

async function readExactly(fh: fsp.FileHandle, file: string, position: number, length: number, what: string): Promise<Uint8Array> {
  const buf = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, position + done);
    if (bytesRead === 0) {
      throw new Error(`safetensors ${file}: file ends before ${what} (wanted ${length} bytes at offset ${position}, got ${done})`);
    }
    done += bytesRead;
  }
  return buf;
}

/** Parses and validates the header of an open safetensors file. */
async function readHeaderFrom(fh: fsp.FileHandle, file: string): Promise<SafetensorsHeader> {
  const { size } = await fh.stat();
  if (size < 8) throw new Error(`safetensors ${file}: file is ${size} bytes, too short for the 8-byte header length`);
  const lenBytes = await readExactly(fh, file, 0, 8, 'the header length');
  const headerLen = Number(new DataView(lenBytes.buffer).getBigUint64(0, true));
  if (headerLen > MAX_HEADER_BYTES || 8 + headerLen > size) {
    throw new Error(`safetensors ${file}: header length ${headerLen} is impossible for a ${size}-byte file (corrupt or not safetensors)`);
  }
  const headerBytes = await readExactly(fh, file, 8, headerLen, 'the end of the JSON header');
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(headerBytes));
  } catch (e) {
    throw new Error(`safetensors ${file}: header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new Error(`safetensors ${file}: header must be a JSON object`);
  }
  const dataStart = 8 + headerLen;
  const dataLen = size - dataStart;
  const entries = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = (raw ?? {}) as Record<string, string>;
      continue;
    }
    const e = raw as Partial<SafetensorsEntry>;
    if (!e || typeof e.dtype !== 'string' || !Array.isArray(e.shape) || !Array.isArray(e.data_offsets) || e.data_offsets.length !== 2) {
      throw new Error(`safetensors ${file}: tensor "${name}" has a malformed header entry (needs dtype, shape, data_offsets[2])`);
    }
    if (!e.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new Error(`safetensors ${file}: tensor "${name}" has invalid shape ${JSON.stringify(e.shape)}`);
    }
    const [begin, end] = e.data_offsets;
    if (!Number.isInteger(begin) || !Number.isInteger(end) || begin < 0 || end < begin || end > dataLen) {
      throw new Error(`safetensors ${file}: tensor "${name}" has data_offsets [${begin}, ${end}] outside the ${dataLen}-byte data section`);
    }
    if (isSupported(e.dtype)) {
      const want = numel(e.shape) * ITEM_SIZE[e.dtype];
      if (end - begin !== want) {
        throw new Error(
          `safetensors ${file}: tensor "${name}" (${e.dtype} ${JSON.stringify(e.shape)}) needs ${want} bytes ` +
            `but data_offsets span ${end - begin}`,
        );
      }
    }
    entries.set(name, { dtype: e.dtype, shape: e.shape.slice(), data_offsets: [begin, end] });
  }
  return { dataStart, entries, metadata };
}

/** Reads only the header of a safetensors file (names, dtypes, shapes, metadata), without tensor data. */
export async function readSafetensorsHeader(file: string): Promise<SafetensorsHeader> {
  const fh = await openForRead(file);
  try {
    return await readHeaderFrom(fh, file);
  } finally {
    await fh.close();
  }
}

async function openForRead(file: string): Promise<fsp.FileHandle> {
  try {
    return await fsp.open(file, 'r');
  } catch (e) {
    throw new Error(`safetensors ${file}: cannot open (${(e as Error).message})`);
  }
}

/**
 * Reads every tensor of a safetensors file into host memory.
 * @param file path of the `.safetensors` file
 * @param opts.names when given, only these tensors are read (a missing name is an error naming it)
 * @returns tensors by name, in header order; F16/BF16 widened to Float32Array, I64 narrowed to Int32Array
 */
export async function readSafetensors(file: string, opts: { names?: Iterable<string> } = {}): Promise<Map<string, HostTensor>> {
  const fh = await openForRead(file);
  try {
    const header = await readHeaderFrom(fh, file);
    let wanted = [...header.entries.keys()];
    if (opts.names) {
      wanted = [...opts.names];
      const missing = wanted.filter((n) => !header.entries.has(n));
      if (missing.length) throw new Error(`safetensors ${file}: no tensor named ${missing.map((m) => `"${m}"`).join(', ')}`);
    }
    const out = new Map<string, HostTensor>();
    for (const name of wanted) {
      const e = header.entries.get(name)!;
      if (!isSupported(e.dtype)) {
        throw new Error(`safetensors ${file}: tensor "${name}" has dtype ${e.dtype}; supported: ${SUPPORTED_DTYPES.join(', ')}`);
      }
      const [begin, end] = e.data_offsets;
      const bytes = await readExactly(fh, file, header.dataStart + begin, end - begin, `the data of tensor "${name}"`);
      out.set(name, { dtype: e.dtype, shape: e.shape.slice(), data: decode(file, name, e.dtype, bytes, numel(e.shape)) });
    }
    return out;
  } finally {
    await fh.close();
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await fsp.access(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * Reads the weights of a Hugging Face model folder: `model.safetensors`, or the shards listed by
 * `model.safetensors.index.json` (`{ weight_map: { tensorName: shardFile } }`).
 * @param dir the model folder
 * @param opts.prefix base name to look for instead of `model` (e.g. 'value_head')
 */
export async function readSafetensorsFolder(dir: string, opts: { prefix?: string } = {}): Promise<Map<string, HostTensor>> {
  const base = opts.prefix ?? 'model';
  const single = path.join(dir, `${base}.safetensors`);
  const index = path.join(dir, `${base}.safetensors.index.json`);
  if (await exists(single)) return readSafetensors(single);
  if (!(await exists(index))) {
    throw new Error(`safetensors folder ${dir}: found neither ${base}.safetensors nor ${base}.safetensors.index.json`);
  }
  let weightMap: Record<string, string>;
  try {
    const parsed = JSON.parse(await fsp.readFile(index, 'utf8')) as { weight_map?: Record<string, string> };
    if (!parsed.weight_map || typeof parsed.weight_map !== 'object') throw new Error('no "weight_map" object');
    weightMap = parsed.weight_map;
  } catch (e) {
    throw new Error(`safetensors index ${index}: ${(e as Error).message}`);
  }
  const byShard = new Map<string, string[]>();
  for (const [name, shard] of Object.entries(weightMap)) {
    if (typeof shard !== 'string' || shard.includes('..') || path.isAbsolute(shard)) {
      throw new Error(`safetensors index ${index}: tensor "${name}" maps to invalid shard ${JSON.stringify(shard)}`);
    }
    const list = byShard.get(shard) ?? [];
    list.push(name);
    byShard.set(shard, list);
  }
  const out = new Map<string, HostTensor>();
  for (const [shard, names] of byShard) {
    const tensors = await readSafetensors(path.join(dir, shard), { names });
    for (const [k, v] of tensors) out.set(k, v);
  }
  return out;
}

// -------------------------------------------------------------------------------------------------- writing ---

function encode(t: HostTensor, dtype: SafetensorsDtype, name: string, file: string): Uint8Array {
  const n = t.data.length;
  const bytes = new Uint8Array(n * ITEM_SIZE[dtype]);
  const view = new DataView(bytes.buffer);
  const isFloat = t.data instanceof Float32Array;
  const isIntDtype = dtype === 'I32' || dtype === 'I64';
  if (isFloat === isIntDtype) {
    throw new Error(`safetensors ${file}: tensor "${name}" has ${isFloat ? 'Float32Array' : 'Int32Array'} data but dtype ${dtype}`);
  }
  switch (dtype) {
    case 'F32':
      for (let i = 0; i < n; i++) view.setFloat32(i * 4, t.data[i]!, true);
      break;
    case 'F16':
      for (let i = 0; i < n; i++) view.setUint16(i * 2, f32ToF16(t.data[i]!), true);
      break;
    case 'BF16':
      for (let i = 0; i < n; i++) view.setUint16(i * 2, f32ToBf16(t.data[i]!), true);
      break;
    case 'I32':
      for (let i = 0; i < n; i++) view.setInt32(i * 4, t.data[i]!, true);
      break;
    case 'I64':
      for (let i = 0; i < n; i++) view.setBigInt64(i * 8, BigInt(t.data[i]!), true);
      break;
  }
  return bytes;
}

/**
 * Writes tensors to a safetensors file (header padded with spaces to 8-byte alignment, tensors in map order).
 * @param file destination path (overwritten)
 * @param tensors tensors by name; `data.length` must equal the product of `shape`
 * @param metadata optional string→string `__metadata__` (e.g. `{ format: 'pt' }`)
 * @param opts see {@link WriteSafetensorsOptions}; floats are written as F32 unless `floatDtype: 'keep'`
 */
export async function writeSafetensors(
  file: string,
  tensors: Map<string, HostTensor>,
  metadata?: Record<string, string>,
  opts: WriteSafetensorsOptions = {},
): Promise<void> {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new Error(`safetensors ${file}: metadata "${k}" must be a string, got ${typeof v}`);
    }
    header.__metadata__ = metadata;
  }
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    if (name === '__metadata__') throw new Error(`safetensors ${file}: "__metadata__" is reserved and cannot name a tensor`);
    if (!isSupported(t.dtype)) {
      throw new Error(`safetensors ${file}: tensor "${name}" has dtype ${String(t.dtype)}; supported: ${SUPPORTED_DTYPES.join(', ')}`);
    }
    if (numel(t.shape) !== t.data.length) {
      throw new Error(
        `safetensors ${file}: tensor "${name}" has shape ${JSON.stringify(t.shape)} (${numel(t.shape)} elements) ` +
          `but ${t.data.length} values`,
      );
    }
    const isFloat = t.dtype === 'F32' || t.dtype === 'F16' || t.dtype === 'BF16';
    const dtype: SafetensorsDtype = isFloat && (opts.floatDtype ?? 'F32') === 'F32' ? 'F32' : t.dtype;
    const bytes = encode(t, dtype, name, file);
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    chunks.push(bytes);
    offset += bytes.length;
  }
  let headerText = JSON.stringify(header);
  const headerBytesRaw = new TextEncoder().encode(headerText);
  const pad = (8 - (headerBytesRaw.length % 8)) % 8;
  headerText += ' '.repeat(pad);
  const headerBytes = new TextEncoder().encode(headerText);
  const lenBytes = new Uint8Array(8);
  new DataView(lenBytes.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  const fh = await fsp.open(file, 'w');
  try {
    await fh.write(lenBytes);
    await fh.write(headerBytes);
    for (const c of chunks) await fh.write(c);
  } finally {
    await fh.close();
  }
}
