/**
 * TensorBoard event files ("tfevents"): the protobuf schema of the messages the project writes, the TFRecord framing
 * around each serialized `Event`, and readers that decode a file back (used by tests and by `detox-lab compare`).
 *
 * Framing of one record (all integers little-endian):
 *   uint64 length | uint32 masked_crc32c(length bytes) | data[length] | uint32 masked_crc32c(data)
 * with mask(crc) = ((crc >>> 15) | (crc << 17)) + 0xa282ead8  (mod 2^32).
 *
 * Schema subset (field numbers as in TensorBoard's event.proto, summary.proto, histogram.proto, tensor.proto,
 * tensor_shape.proto):
 *   Event           { double wall_time = 1; int64 step = 2; oneof what { string file_version = 3; Summary summary = 5; } }
 *   Summary         { repeated Value value = 1; }
 *   Summary.Value   { string tag = 1; SummaryMetadata metadata = 9;
 *                     oneof value { float simple_value = 2; HistogramProto histo = 5; TensorProto tensor = 8; } }
 *   SummaryMetadata { PluginData plugin_data = 1 { string plugin_name = 1; bytes content = 2; } }
 *   HistogramProto  { double min = 1, max = 2, num = 3, sum = 4, sum_squares = 5;
 *                     repeated double bucket_limit = 6 [packed]; repeated double bucket = 7 [packed]; }
 *   TensorProto     { DataType dtype = 1; TensorShapeProto tensor_shape = 2; bytes tensor_content = 4;
 *                     repeated float float_val = 5 [packed]; repeated double double_val = 6 [packed];
 *                     repeated bytes string_val = 8; }
 *   TensorShapeProto { repeated Dim dim = 2 { int64 size = 1; string name = 2; } }
 * Fields outside this subset are skipped when decoding (protobuf unknown-field rules).
 */
import fs from 'node:fs';
import path from 'node:path';
import protobuf from 'protobufjs';
import { crc32c } from '@aws-crypto/crc32c';

// ---------------------------------------------------------------------------------------------------------------
// Schema
// ---------------------------------------------------------------------------------------------------------------

/** TensorFlow `DataType` values used by the project. */
export const DataType = {
  DT_INVALID: 0,
  DT_FLOAT: 1,
  DT_DOUBLE: 2,
  DT_STRING: 7,
} as const;

/** The `file_version` string TensorBoard expects in the first event of every file. */
export const FILE_VERSION = 'brain.Event:2';

const P3 = 'proto3';

// `edition` on each message selects proto3 semantics in protobufjs; its typings do not list that key, hence the
// cast when the descriptor is handed over.
const schema = {
  nested: {
    tensorboard: {
      nested: {
        DataType: {
          values: { DT_INVALID: 0, DT_FLOAT: 1, DT_DOUBLE: 2, DT_STRING: 7 },
        },
        TensorShapeProto: {
          edition: P3,
          fields: { dim: { rule: 'repeated', type: 'Dim', id: 2 } },
          nested: {
            Dim: {
              edition: P3,
              fields: { size: { type: 'int64', id: 1 }, name: { type: 'string', id: 2 } },
            },
          },
        },
        TensorProto: {
          edition: P3,
          fields: {
            dtype: { type: 'DataType', id: 1 },
            tensorShape: { type: 'TensorShapeProto', id: 2 },
            tensorContent: { type: 'bytes', id: 4 },
            floatVal: { rule: 'repeated', type: 'float', id: 5, options: { packed: true } },
            doubleVal: { rule: 'repeated', type: 'double', id: 6, options: { packed: true } },
            stringVal: { rule: 'repeated', type: 'bytes', id: 8 },
          },
        },
        HistogramProto: {
          edition: P3,
          fields: {
            min: { type: 'double', id: 1 },
            max: { type: 'double', id: 2 },
            num: { type: 'double', id: 3 },
            sum: { type: 'double', id: 4 },
            sumSquares: { type: 'double', id: 5 },
            bucketLimit: { rule: 'repeated', type: 'double', id: 6, options: { packed: true } },
            bucket: { rule: 'repeated', type: 'double', id: 7, options: { packed: true } },
          },
        },
        SummaryMetadata: {
          edition: P3,
          fields: { pluginData: { type: 'PluginData', id: 1 } },
          nested: {
            PluginData: {
              edition: P3,
              fields: { pluginName: { type: 'string', id: 1 }, content: { type: 'bytes', id: 2 } },
            },
          },
        },
        Summary: {
          edition: P3,
          fields: { value: { rule: 'repeated', type: 'Value', id: 1 } },
          nested: {
            Value: {
              edition: P3,
              oneofs: { value: { oneof: ['simpleValue', 'histo', 'tensor'] } },
              fields: {
                tag: { type: 'string', id: 1 },
                simpleValue: { type: 'float', id: 2 },
                histo: { type: 'HistogramProto', id: 5 },
                tensor: { type: 'TensorProto', id: 8 },
                metadata: { type: 'SummaryMetadata', id: 9 },
              },
            },
          },
        },
        Event: {
          edition: P3,
          oneofs: { what: { oneof: ['fileVersion', 'summary'] } },
          fields: {
            wallTime: { type: 'double', id: 1 },
            step: { type: 'int64', id: 2 },
            fileVersion: { type: 'string', id: 3 },
            summary: { type: 'Summary', id: 5 },
          },
        },
      },
    },
  },
};

const root = protobuf.Root.fromJSON(schema as unknown as protobuf.INamespace);

/** protobufjs reflection type of `tensorboard.Event` (exposed for tests and tools that craft events by hand). */
export const EventProto: protobuf.Type = root.lookupType('tensorboard.Event');

// ---------------------------------------------------------------------------------------------------------------
// Decoded event shapes
// ---------------------------------------------------------------------------------------------------------------

/** `TensorShapeProto` (an empty `dim` list is a rank-0 shape). */
interface TfTensorShape {
  dim: { size: number; name?: string }[];
}

/** `TensorProto` subset. Only the representation that was present in the file is set. */
export interface TfTensor {
  dtype: number;
  tensorShape?: TfTensorShape;
  tensorContent?: Uint8Array;
  floatVal?: number[];
  doubleVal?: number[];
  stringVal?: Uint8Array[];
}

/** `HistogramProto`: bucket i counts values in [bucketLimit[i-1], bucketLimit[i]) (bucket 0 starts at `min`). */
export interface TfHistogram {
  min: number;
  max: number;
  num: number;
  sum: number;
  sumSquares: number;
  bucketLimit: number[];
  bucket: number[];
}

/** `SummaryMetadata` subset. */
export interface TfSummaryMetadata {
  /** `content` is absent when the file left it empty (proto3 default). */
  pluginData?: { pluginName: string; content?: Uint8Array };
}

/** `Summary.Value`: exactly one of simpleValue / histo / tensor is set for values the project writes. */
export interface TfSummaryValue {
  tag: string;
  simpleValue?: number;
  histo?: TfHistogram;
  tensor?: TfTensor;
  metadata?: TfSummaryMetadata;
}

/** A decoded `Event` (proto3 defaults filled in for wallTime and step). */
export interface TfEvent {
  wallTime: number;
  step: number;
  fileVersion?: string;
  summary?: { value: TfSummaryValue[] };
}

// ---------------------------------------------------------------------------------------------------------------
// Encoding / decoding of one Event
// ---------------------------------------------------------------------------------------------------------------

/** Serializes an event to protobuf bytes. `step` must be a safe integer. */
export function encodeEvent(event: TfEvent): Uint8Array {
  if (!Number.isSafeInteger(event.step)) {
    throw new Error(`encodeEvent: step must be a safe integer, got ${event.step}`);
  }
  return EventProto.encode(event as unknown as Record<string, unknown>).finish();
}

type Plain = Record<string, unknown>;

const toBytes = (b: unknown): Uint8Array => {
  const u = b as Uint8Array;
  return new Uint8Array(u.buffer, u.byteOffset, u.byteLength);
};

const num = (v: unknown): number => (v === undefined ? 0 : Number(v));

function fromPlainTensor(t: Plain): TfTensor {
  const out: TfTensor = { dtype: num(t.dtype) };
  const shape = t.tensorShape as Plain | undefined;
  if (shape !== undefined) {
    const dims = (shape.dim as Plain[] | undefined) ?? [];
    out.tensorShape = {
      dim: dims.map((d) => {
        const dim: { size: number; name?: string } = { size: num(d.size) };
        if (typeof d.name === 'string' && d.name !== '') dim.name = d.name;
        return dim;
      }),
    };
  }
  if (t.tensorContent !== undefined) out.tensorContent = toBytes(t.tensorContent);
  if (Array.isArray(t.floatVal)) out.floatVal = t.floatVal.map(Number);
  if (Array.isArray(t.doubleVal)) out.doubleVal = t.doubleVal.map(Number);
  if (Array.isArray(t.stringVal)) out.stringVal = t.stringVal.map(toBytes);
  return out;
}

function fromPlainValue(v: Plain): TfSummaryValue {
  const out: TfSummaryValue = { tag: (v.tag as string | undefined) ?? '' };
  if (v.simpleValue !== undefined) out.simpleValue = Number(v.simpleValue);
  if (v.histo !== undefined) {
    const h = v.histo as Plain;
    out.histo = {
      min: num(h.min),
      max: num(h.max),
      num: num(h.num),
      sum: num(h.sum),
      sumSquares: num(h.sumSquares),
      bucketLimit: ((h.bucketLimit as number[] | undefined) ?? []).map(Number),
      bucket: ((h.bucket as number[] | undefined) ?? []).map(Number),
    };
  }
  if (v.tensor !== undefined) out.tensor = fromPlainTensor(v.tensor as Plain);
  if (v.metadata !== undefined) {
    const m = v.metadata as Plain;
    out.metadata = {};
    if (m.pluginData !== undefined) {
      const pd = m.pluginData as Plain;
      out.metadata.pluginData = { pluginName: (pd.pluginName as string | undefined) ?? '' };
      if (pd.content !== undefined) out.metadata.pluginData.content = toBytes(pd.content);
    }
  }
  return out;
}

/** Parses protobuf bytes of one `Event`. Throws protobufjs' error on malformed bytes. */
export function decodeEvent(bytes: Uint8Array): TfEvent {
  const msg = EventProto.decode(bytes);
  const o = EventProto.toObject(msg, { longs: Number, defaults: false }) as Plain;
  const out: TfEvent = { wallTime: num(o.wallTime), step: num(o.step) };
  if (typeof o.fileVersion === 'string') out.fileVersion = o.fileVersion;
  if (o.summary !== undefined) {
    const values = ((o.summary as Plain).value as Plain[] | undefined) ?? [];
    out.summary = { value: values.map(fromPlainValue) };
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Record framing
// ---------------------------------------------------------------------------------------------------------------

/** Bytes of framing around each record's data: 8 (length) + 4 (length CRC) + 4 (data CRC). */
export const RECORD_OVERHEAD = 16;

/** CRC32C (Castagnoli) of `bytes`, masked as TFRecord does. Returns an unsigned 32-bit integer. */
function maskedCrc32c(bytes: Uint8Array): number {
  const crc = crc32c(bytes) >>> 0;
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** Wraps serialized data in one TFRecord: length, masked CRC of the length, data, masked CRC of the data. */
export function frameRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length + RECORD_OVERHEAD);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  view.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

/** One framed record located in a buffer. */
interface RawRecord {
  /** Byte offset of the record's length field in the file. */
  offset: number;
  /** The record's data (a view into the input buffer). */
  data: Uint8Array;
}

/** Options of the readers. */
export interface ReadOptions {
  /**
   * When true, an incomplete record at the very end of the file (a writer caught mid-append) is ignored instead of
   * raising an error. CRC mismatches always raise. Default false.
   */
  allowTruncatedTail?: boolean;
}

const hex = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;

/**
 * Splits a tfevents byte buffer into records, verifying both masked CRCs of every record.
 * Errors name `source`, the byte offset of the offending record and what failed.
 */
export function parseRecords(buf: Uint8Array, source = '<buffer>', opts: ReadOptions = {}): RawRecord[] {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const records: RawRecord[] = [];
  let off = 0;
  while (off < buf.length) {
    const remaining = buf.length - off;
    if (remaining < 12) {
      if (opts.allowTruncatedTail) break;
      throw new Error(`${source}: truncated record header at byte offset ${off} (${remaining} bytes left, a header needs 12)`);
    }
    const storedLenCrc = view.getUint32(off + 8, true);
    const lenCrc = maskedCrc32c(buf.subarray(off, off + 8));
    if (storedLenCrc !== lenCrc) {
      throw new Error(
        `${source}: corrupt record at byte offset ${off}: length CRC mismatch ` + `(stored ${hex(storedLenCrc)}, computed ${hex(lenCrc)})`,
      );
    }
    const len64 = view.getBigUint64(off, true);
    if (len64 > BigInt(remaining - RECORD_OVERHEAD)) {
      if (opts.allowTruncatedTail) break;
      throw new Error(
        `${source}: truncated record at byte offset ${off}: length field says ${len64} data bytes, ` +
          `only ${Math.max(0, remaining - RECORD_OVERHEAD)} remain before the data CRC`,
      );
    }
    const len = Number(len64);
    const data = buf.subarray(off + 12, off + 12 + len);
    const storedDataCrc = view.getUint32(off + 12 + len, true);
    const dataCrc = maskedCrc32c(data);
    if (storedDataCrc !== dataCrc) {
      throw new Error(
        `${source}: corrupt record at byte offset ${off}: data CRC mismatch over bytes ${off + 12}..${off + 12 + len} ` +
          `(stored ${hex(storedDataCrc)}, computed ${hex(dataCrc)})`,
      );
    }
    records.push({ offset: off, data });
    off += len + RECORD_OVERHEAD;
  }
  return records;
}

// ---------------------------------------------------------------------------------------------------------------
// Readers
// ---------------------------------------------------------------------------------------------------------------

/**
 * Reads every event of one tfevents file, in file order. Verifies both masked CRCs of every record and throws an
 * error naming the file and byte offset on corruption or truncation (see `ReadOptions.allowTruncatedTail`).
 */
export function readEventFile(file: string, opts: ReadOptions = {}): TfEvent[] {
  const buf = fs.readFileSync(file);
  return parseRecords(buf, file, opts).map((r) => {
    try {
      return decodeEvent(r.data);
    } catch (e) {
      throw new Error(`${file}: record at byte offset ${r.offset} is not a valid Event: ${(e as Error).message}`);
    }
  });
}

/**
 * Event files of a directory as TensorBoard finds them: regular files whose name contains "tfevents", not recursing
 * into subdirectories (TensorBoard treats those as separate runs), sorted by name (the name starts with the creation
 * time, so this is chronological).
 */
export function listEventFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && e.name.includes('tfevents'))
    .map((e) => e.name)
    .sort()
    .map((n) => path.join(dir, n));
}

/** One point of a scalar curve. */
export interface ScalarPoint {
  step: number;
  value: number;
  wallTime: number;
}

/** Value of a rank-0 (or single-element) DT_FLOAT / DT_DOUBLE tensor, or undefined for anything else. */
function tensorScalar(t: TfTensor): number | undefined {
  const elements = (t.tensorShape?.dim ?? []).reduce((a, d) => a * d.size, 1);
  if (elements !== 1) return undefined;
  if (t.dtype === DataType.DT_FLOAT) {
    if (t.floatVal && t.floatVal.length > 0) return t.floatVal[0];
    if (t.tensorContent && t.tensorContent.length >= 4) {
      return new DataView(t.tensorContent.buffer, t.tensorContent.byteOffset, 4).getFloat32(0, true);
    }
  } else if (t.dtype === DataType.DT_DOUBLE) {
    if (t.doubleVal && t.doubleVal.length > 0) return t.doubleVal[0];
    if (t.tensorContent && t.tensorContent.length >= 8) {
      return new DataView(t.tensorContent.buffer, t.tensorContent.byteOffset, 8).getFloat64(0, true);
    }
  }
  return undefined;
}

/**
 * Scalar curves of one event file, or of all event files of a directory (see `listEventFiles`).
 * Collects `simple_value` values (the classic path this project writes) and single-element float/double tensors
 * tagged for the "scalars" plugin (the form TensorFlow 2 writes; the plugin metadata may appear only on a tag's first
 * value). Each curve is sorted by step; points with equal steps keep file order.
 * Throws if a directory holds no event file, or on any corrupt record.
 */
export function readScalars(pathOrDir: string, opts: ReadOptions = {}): Map<string, ScalarPoint[]> {
  const files = fs.statSync(pathOrDir).isDirectory() ? listEventFiles(pathOrDir) : [pathOrDir];
  if (files.length === 0) {
    throw new Error(`readScalars: no event file (name containing "tfevents") in directory ${pathOrDir}`);
  }
  const curves = new Map<string, ScalarPoint[]>();
  const tensorScalarTags = new Set<string>();
  const push = (tag: string, p: ScalarPoint): void => {
    let c = curves.get(tag);
    if (c === undefined) curves.set(tag, (c = []));
    c.push(p);
  };
  for (const file of files) {
    for (const ev of readEventFile(file, opts)) {
      for (const v of ev.summary?.value ?? []) {
        if (v.simpleValue !== undefined) {
          push(v.tag, { step: ev.step, value: v.simpleValue, wallTime: ev.wallTime });
        } else if (v.tensor !== undefined) {
          if (v.metadata?.pluginData?.pluginName === 'scalars') tensorScalarTags.add(v.tag);
          if (!tensorScalarTags.has(v.tag)) continue;
          const x = tensorScalar(v.tensor);
          if (x !== undefined) push(v.tag, { step: ev.step, value: x, wallTime: ev.wallTime });
        }
      }
    }
  }
  for (const c of curves.values()) c.sort((a, b) => a.step - b.step); // Array.prototype.sort is stable
  return curves;
}
