/**
 * Tests of the TensorBoard event writer and reader (core/logging).
 *
 * References:
 * - test/fixtures/logging/reference.tfevents: written by make_reference_tfevents.py with a hand-written proto3 wire
 *   encoder and a bitwise CRC32C (no protobuf or CRC library), so framing, masking and field numbers are checked
 *   against an implementation that shares no code with the project.
 * - test/fixtures/logging/histogram-reference.json: numpy.histogram(values, bins=30) on 1033 values including every
 *   interior bin edge and repeated min/max.
 * - Framing is additionally re-parsed here with @aws-crypto/crc32c applied directly to the raw bytes.
 */
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { crc32c } from '@aws-crypto/crc32c';
import { TensorBoardWriter, buildHistogram, MAX_BUFFERED_BYTES, readEventFile, readScalars } from '../../core/logging/tensorboard.js';
import {
  DataType,
  EventProto,
  decodeEvent,
  encodeEvent,
  frameRecord,
  listEventFiles,
  parseRecords,
  type TfEvent,
} from '../../core/logging/tfevents.js';

const FIXTURES = path.resolve(process.cwd(), 'test/fixtures/logging');
const REFERENCE_FILE = path.join(FIXTURES, 'reference.tfevents');
const TEXT = 'héllo — 毒性 ☃ 😀';

function tmpDir(t: { teardown(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'detox-tb-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Framing parser written against the raw bytes, independent of core/logging/tfevents.ts. */
function rawRecords(buf: Uint8Array): { offset: number; data: Uint8Array; lenCrcOk: boolean; dataCrcOk: boolean }[] {
  const mask = (crc: number): number => ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out = [];
  let off = 0;
  while (off < buf.length) {
    const len = Number(view.getBigUint64(off, true));
    const lenCrcOk = view.getUint32(off + 8, true) === mask(crc32c(buf.subarray(off, off + 8)));
    const data = buf.subarray(off + 12, off + 12 + len);
    const dataCrcOk = view.getUint32(off + 12 + len, true) === mask(crc32c(data));
    out.push({ offset: off, data, lenCrcOk, dataCrcOk });
    off += 16 + len;
  }
  if (off !== buf.length) throw new Error(`trailing bytes: ended at ${off} of ${buf.length}`);
  return out;
}

const utf8 = (b: Uint8Array | undefined): string => new TextDecoder('utf-8', { fatal: true }).decode(b);

test('@aws-crypto/crc32c gives the standard CRC-32C check value', (t) => {
  t.is(crc32c(new TextEncoder().encode('123456789')) >>> 0, 0xe3069283);
});

test('file name follows events.out.tfevents.<unix seconds>.<hostname> and file_version comes first', (t) => {
  const dir = path.join(tmpDir(t), 'nested', 'run'); // created recursively
  const before = Math.floor(Date.now() / 1000);
  const w = new TensorBoardWriter(dir);
  const after = Math.floor(Date.now() / 1000);
  try {
    t.is(path.dirname(w.path), path.resolve(dir));
    const m = /^events\.out\.tfevents\.(\d+)\.(.+)$/.exec(path.basename(w.path));
    t.truthy(m, path.basename(w.path));
    const secs = Number(m![1]);
    t.true(secs >= before && secs <= after, `${secs} not in [${before}, ${after}]`);
    t.is(m![2], os.hostname());
    // The version event is on disk before any flush.
    const events = readEventFile(w.path);
    t.is(events.length, 1);
    t.is(events[0].fileVersion, 'brain.Event:2');
    t.is(events[0].step, 0);
    t.is(events[0].summary, undefined);
    t.true(Math.abs(events[0].wallTime - Date.now() / 1000) < 60);
  } finally {
    w.close();
  }
});

test('every record passes an independent CRC check and decodes to the written values', (t) => {
  const dir = tmpDir(t);
  const w = new TensorBoardWriter(dir);
  w.scalar('a', 1.5, 1, 1000.25);
  w.text('b', TEXT, 2, 1001.5);
  w.histogram('c', [1, 2, 3], 3, { wallTime: 1002.75 });
  w.close();
  const buf = fs.readFileSync(w.path);
  const raw = rawRecords(buf);
  t.is(raw.length, 4);
  for (const r of raw) {
    t.true(r.lenCrcOk, `length CRC at ${r.offset}`);
    t.true(r.dataCrcOk, `data CRC at ${r.offset}`);
  }
  const events = readEventFile(w.path);
  t.deepEqual(
    raw.map((r) => decodeEvent(r.data)),
    events,
  );
  t.deepEqual(
    events.slice(1).map((e) => [e.step, e.wallTime, e.summary!.value[0].tag]),
    [
      [1, 1000.25, 'a'],
      [2, 1001.5, 'b'],
      [3, 1002.75, 'c'],
    ],
  );
});

test('scalars: float32 storage, NaN and infinities round-trip, steps and wall times kept', (t) => {
  const dir = tmpDir(t);
  const w = new TensorBoardWriter(dir);
  const inputs = [0.1, -2.5, NaN, Infinity, -Infinity, 1e40, 0, -0, 123456789.123, 2 ** -149];
  inputs.forEach((v, i) => w.scalar('train/x', v, 10 * i + 3, 1700000000 + i / 8));
  w.scalar('other', 7, 2 ** 40, 5); // int64 step beyond 32 bits
  w.close();
  const events = readEventFile(w.path).slice(1);
  t.is(events.length, inputs.length + 1);
  inputs.forEach((v, i) => {
    const e = events[i];
    t.is(e.step, 10 * i + 3);
    t.is(e.wallTime, 1700000000 + i / 8);
    t.is(e.summary!.value.length, 1);
    t.is(e.summary!.value[0].tag, 'train/x');
    t.is(e.summary!.value[0].simpleValue, Math.fround(v)); // t.is uses Object.is: NaN, -0 and Infinity compared exactly
  });
  t.is(events[0].summary!.value[0].simpleValue, 0.10000000149011612);
  t.is(events[5].summary!.value[0].simpleValue, Infinity); // 1e40 overflows float32
  t.is(events[9].summary!.value[0].simpleValue, 2 ** -149); // smallest float32 subnormal survives
  t.is(events[inputs.length].step, 2 ** 40);

  const curves = readScalars(w.path);
  t.deepEqual([...curves.keys()], ['train/x', 'other']);
  t.deepEqual(
    curves.get('train/x')!.map((p) => p.value),
    inputs.map((v) => Math.fround(v)),
  );
  t.deepEqual(curves.get('other'), [{ step: 2 ** 40, value: 7, wallTime: 5 }]);
});

test('text: UTF-8 with non-ASCII characters, text plugin metadata, rank-0 DT_STRING tensor', (t) => {
  const dir = tmpDir(t);
  const w = new TensorBoardWriter(dir);
  w.text('samples/0', TEXT, 4, 12.5);
  w.text('samples/1', '', 5, 13);
  w.close();
  const [, e1, e2] = readEventFile(w.path);
  const v = e1.summary!.value[0];
  t.is(v.tag, 'samples/0');
  t.is(e1.step, 4);
  t.is(e1.wallTime, 12.5);
  t.is(v.simpleValue, undefined);
  t.is(v.metadata!.pluginData!.pluginName, 'text');
  t.is(v.tensor!.dtype, DataType.DT_STRING);
  t.is(DataType.DT_STRING, 7);
  t.deepEqual(v.tensor!.tensorShape, { dim: [] });
  t.is(v.tensor!.stringVal!.length, 1);
  t.is(utf8(v.tensor!.stringVal![0]), TEXT);
  t.is(v.tensor!.stringVal![0].length, 26); // h,l,l,o + 4 spaces (8) + é(2) + —(3) + 毒性(6) + ☃(3) + 😀(4)
  t.is(utf8(e2.summary!.value[0].tensor!.stringVal![0]), '');
});

interface HistRef {
  values: number[];
  bins: number;
  edges: number[];
  counts: number[];
  min: number;
  max: number;
  num: number;
  sum: number;
  sum_squares: number;
}

test('histogram matches numpy.histogram (30 bins, values on every edge) and excludes non-finite values', (t) => {
  const ref = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'histogram-reference.json'), 'utf8')) as HistRef;
  const dir = tmpDir(t);
  const w = new TensorBoardWriter(dir);
  const withBad = [NaN, ...ref.values.slice(0, 500), Infinity, -Infinity, ...ref.values.slice(500), NaN];
  const res = w.histogram('weights', Float64Array.from(withBad), 6, { wallTime: 99 });
  w.close();
  t.deepEqual(res, { num: ref.num, nonFinite: 4 });
  const [, e] = readEventFile(w.path);
  t.is(e.step, 6);
  t.is(e.wallTime, 99);
  const h = e.summary!.value[0].histo!;
  t.is(h.min, ref.min);
  t.is(h.max, ref.max);
  t.is(h.num, 1033);
  t.is(h.num, ref.num);
  t.true(Math.abs(h.sum - ref.sum) <= 1e-12 * ref.num * ref.max, `${h.sum} vs ${ref.sum}`);
  t.true(Math.abs(h.sumSquares - ref.sum_squares) <= 1e-13 * ref.sum_squares, `${h.sumSquares} vs ${ref.sum_squares}`);
  t.deepEqual(h.bucketLimit, ref.edges.slice(1)); // bit-exact right edges, last = max
  t.is(h.bucketLimit[h.bucketLimit.length - 1], h.max);
  t.deepEqual(h.bucket, ref.counts);
  t.is(
    h.bucket.reduce((a, b) => a + b, 0),
    ref.num,
  );
  // Default bin count is 30.
  t.is(buildHistogram(ref.values).histo.bucket.length, 30);
});

test('histogram edge cases: empty, constant, only non-finite, custom bins, invalid bins', (t) => {
  t.deepEqual(buildHistogram([]), {
    histo: { min: 0, max: 0, num: 0, sum: 0, sumSquares: 0, bucketLimit: [0], bucket: [0] },
    nonFinite: 0,
  });
  t.deepEqual(buildHistogram([NaN, Infinity]), {
    histo: { min: 0, max: 0, num: 0, sum: 0, sumSquares: 0, bucketLimit: [0], bucket: [0] },
    nonFinite: 2,
  });
  t.deepEqual(buildHistogram([2.5, 2.5, NaN, 2.5]), {
    histo: { min: 2.5, max: 2.5, num: 3, sum: 7.5, sumSquares: 18.75, bucketLimit: [2.5], bucket: [3] },
    nonFinite: 1,
  });
  // [-1, 0), [0, 1), [1, 2]: 2 lands in the last (closed) bucket, 0 and 1 on left edges.
  t.deepEqual(buildHistogram([-1, 0, 0.5, 1, 2, 2], 3).histo, {
    min: -1,
    max: 2,
    num: 6,
    sum: 4.5,
    sumSquares: 10.25,
    bucketLimit: [0, 1, 2],
    bucket: [1, 2, 3],
  });
  t.throws(() => buildHistogram([1, 2], 0), { message: /bins must be an integer >= 1, got 0/ });
  t.throws(() => buildHistogram([1, 2], 2.5), { message: /bins must be an integer >= 1, got 2.5/ });

  const dir = tmpDir(t);
  const w = new TensorBoardWriter(dir);
  t.deepEqual(w.histogram('empty', [], 1), { num: 0, nonFinite: 0 });
  t.deepEqual(w.histogram('bad', [NaN], 2), { num: 0, nonFinite: 1 });
  w.close();
  const events = readEventFile(w.path);
  t.deepEqual(events[1].summary!.value[0].histo, {
    min: 0,
    max: 0,
    num: 0,
    sum: 0,
    sumSquares: 0,
    bucketLimit: [0],
    bucket: [0],
  });
  t.is(events[2].summary!.value[0].histo!.num, 0);
});

test('reader decodes the independently written reference file', (t) => {
  const events = readEventFile(REFERENCE_FILE);
  t.is(events.length, 9);
  t.deepEqual(events[0], { wallTime: 1700000000.5, step: 0, fileVersion: 'brain.Event:2' });
  t.deepEqual(events[1], { wallTime: 1700000001.25, step: 1, summary: { value: [{ tag: 'loss', simpleValue: Math.fround(0.1) }] } });
  t.true(Number.isNaN(events[2].summary!.value[0].simpleValue));
  t.is(events[3].summary!.value[0].simpleValue, -Infinity);
  const text = events[4].summary!.value[0];
  t.is(events[4].step, 7);
  t.is(text.metadata!.pluginData!.pluginName, 'text');
  t.is(text.metadata!.pluginData!.content, undefined);
  t.is(text.tensor!.dtype, 7);
  t.is(utf8(text.tensor!.stringVal![0]), TEXT);
  t.deepEqual(events[5].summary!.value[0].histo, {
    min: -1,
    max: 2,
    num: 4,
    sum: 3,
    sumSquares: 7.5,
    bucketLimit: [0, 1, 2],
    bucket: [1, 1, 2],
  });

  const curves = readScalars(REFERENCE_FILE);
  t.deepEqual([...curves.keys()].sort(), ['loss', 'tf2/acc']);
  const loss = curves.get('loss')!;
  t.deepEqual(
    loss.map((p) => p.step),
    [1, 2, 3, 5], // sorted by step although step 5 was written last
  );
  t.is(loss[0].value, Math.fround(0.1));
  t.true(Number.isNaN(loss[1].value));
  t.is(loss[2].value, -Infinity);
  t.deepEqual(loss[3], { step: 5, value: 2.5, wallTime: 1700000008 });
  // TensorFlow 2 scalar tensors: tensor_content on the first (with metadata), float_val on the second (without).
  t.deepEqual(curves.get('tf2/acc'), [
    { step: 9, value: 0.75, wallTime: 1700000006 },
    { step: 10, value: 0.5, wallTime: 1700000007 },
  ]);
});

test('writer output is byte-identical to the reference encoder for scalar, text and histogram events', (t) => {
  const refFile = fs.readFileSync(REFERENCE_FILE);
  const ref = rawRecords(refFile);
  const dir = tmpDir(t);
  const w = new TensorBoardWriter(dir);
  w.scalar('loss', 0.1, 1, 1700000001.25);
  w.text('samples', TEXT, 7, 1700000004);
  w.histogram('h', [2, -1, 1.5, 0.5], 8, { bins: 3, wallTime: 1700000005 });
  w.scalar('loss', 2.5, 5, 1700000008);
  w.close();
  const mine = fs.readFileSync(w.path);
  const records = rawRecords(mine).slice(1); // the file_version record carries the current time
  const whole = (buf: Buffer, r: { offset: number; data: Uint8Array }): Buffer => buf.subarray(r.offset, r.offset + 16 + r.data.length);
  t.is(records.length, 4);
  [1, 4, 5, 8].forEach((refIndex, i) => {
    t.deepEqual(whole(mine, records[i]), whole(refFile, ref[refIndex]), `record ${i + 1} vs reference ${refIndex}`);
  });
});

test('corruption is detected with the byte offset; truncation is an error unless allowed', (t) => {
  const dir = tmpDir(t);
  const original = fs.readFileSync(REFERENCE_FILE);
  const offsets = rawRecords(original).map((r) => r.offset);
  const file = path.join(dir, 'events.out.tfevents.1.test');

  const dataCorrupt = Buffer.from(original);
  dataCorrupt[offsets[3] + 12 + 2] ^= 0x01; // one bit inside record 3's data
  fs.writeFileSync(file, dataCorrupt);
  t.throws(() => readEventFile(file), {
    message: new RegExp(`corrupt record at byte offset ${offsets[3]}: data CRC mismatch`),
  });
  t.throws(() => readScalars(dir), { message: new RegExp(`byte offset ${offsets[3]}`) });
  t.throws(() => readEventFile(file, { allowTruncatedTail: true }), { message: /data CRC mismatch/ });

  const lenCorrupt = Buffer.from(original);
  lenCorrupt[offsets[5]] ^= 0x40; // the length field of record 5
  fs.writeFileSync(file, lenCorrupt);
  t.throws(() => readEventFile(file), {
    message: new RegExp(`corrupt record at byte offset ${offsets[5]}: length CRC mismatch`),
  });

  const crcCorrupt = Buffer.from(original);
  crcCorrupt[offsets[2] - 1] ^= 0xff; // record 1's data CRC (last byte before record 2)
  fs.writeFileSync(file, crcCorrupt);
  t.throws(() => readEventFile(file), {
    message: new RegExp(`corrupt record at byte offset ${offsets[1]}: data CRC mismatch`),
  });

  fs.writeFileSync(file, original.subarray(0, original.length - 3));
  t.throws(() => readEventFile(file), { message: new RegExp(`truncated record at byte offset ${offsets[8]}`) });
  t.is(readEventFile(file, { allowTruncatedTail: true }).length, 8);
  fs.writeFileSync(file, original.subarray(0, offsets[8] + 5));
  t.throws(() => readEventFile(file), { message: new RegExp(`truncated record header at byte offset ${offsets[8]}`) });
  t.is(readEventFile(file, { allowTruncatedTail: true }).length, 8);

  // A record with valid CRCs whose data is not an Event.
  fs.writeFileSync(file, Buffer.concat([original.subarray(0, offsets[1]), frameRecord(Uint8Array.of(0x0a, 0x05, 1))]));
  t.throws(() => readEventFile(file), { message: new RegExp(`record at byte offset ${offsets[1]} is not a valid Event`) });
});

test('the flush timer writes buffered events without close()', async (t) => {
  const dir = tmpDir(t);
  const w = new TensorBoardWriter(dir, { flushEverySeconds: 0.05 });
  t.teardown(() => w.close());
  w.scalar('tick', 3.25, 1, 10);
  t.is(readEventFile(w.path).length, 1, 'buffered until the timer fires');
  const deadline = Date.now() + 5000;
  let events: TfEvent[] = [];
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    events = readEventFile(w.path);
    if (events.length === 2) break;
  }
  events = readEventFile(w.path);
  t.is(events.length, 2);
  t.is(events[1].summary!.value[0].simpleValue, 3.25);
  t.false(w.closed);
});

test('the flush timer does not keep the process alive', async (t) => {
  const dir = tmpDir(t);
  const mod = new URL('../../core/logging/tensorboard.js', import.meta.url).href;
  const code = [
    `import { TensorBoardWriter } from ${JSON.stringify(mod)};`,
    `const w = new TensorBoardWriter(${JSON.stringify(dir)}, { flushEverySeconds: 3600 });`,
    `w.scalar('x', 1, 1);`,
    `process.stdout.write(w.path);`,
  ].join('\n');
  const started = Date.now();
  const r = await new Promise<{ status: number | null; signal: string | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { timeout: 30000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
  const elapsed = Date.now() - started;
  t.is(r.signal, null, 'child had to be killed: the timer kept it alive');
  t.is(r.status, 0, r.stderr);
  t.true(elapsed < 15000, `${elapsed} ms`);
  // Without close() the scalar was still buffered at exit: only the file_version event reached the disk.
  t.deepEqual(
    readEventFile(r.stdout).map((e) => e.fileVersion),
    ['brain.Event:2'],
  );
});

test('write-through mode, buffer limit, close semantics and argument checks', (t) => {
  const dir = tmpDir(t);
  const wt = new TensorBoardWriter(path.join(dir, 'wt'), { flushEverySeconds: 0 });
  wt.scalar('a', 1, 1);
  t.is(readEventFile(wt.path).length, 2, 'write-through appends at once');
  wt.close();
  wt.close(); // idempotent
  t.true(wt.closed);
  wt.flush(); // no-op once closed
  t.throws(() => wt.scalar('a', 2, 2), { message: /scalar\("a"\): writer for .* is closed/ });
  t.is(readEventFile(wt.path).length, 2);

  const big = new TensorBoardWriter(path.join(dir, 'big'), { flushEverySeconds: 3600 });
  let n = 0;
  while (fs.statSync(big.path).size < 100) big.scalar('s', n, n++);
  const flushedAt = n;
  t.true(flushedAt > MAX_BUFFERED_BYTES / 64, `flushed after ${flushedAt} scalars`);
  t.is(readEventFile(big.path).length, 1 + flushedAt);
  big.close();

  t.throws(() => new TensorBoardWriter(dir, { flushEverySeconds: -1 }), { message: /flushEverySeconds must be/ });
  t.throws(() => new TensorBoardWriter(dir, { flushEverySeconds: NaN }), { message: /flushEverySeconds must be/ });
  const w = new TensorBoardWriter(path.join(dir, 'args'));
  t.teardown(() => w.close());
  t.throws(() => w.scalar('', 1, 1), { message: /scalar: tag must be a non-empty string/ });
  t.throws(() => w.scalar('a', 1, 1.5), { message: /scalar\("a"\): step must be a safe integer, got 1.5/ });
  t.throws(() => w.text('a', 'x', 2 ** 60), { message: /text\("a"\): step must be a safe integer/ });
  t.throws(() => w.scalar('a', '1' as unknown as number, 1), { message: /value must be a number, got string/ });
  t.throws(() => w.scalar('a', 1, 1, NaN), { message: /wallTime must be finite seconds, got NaN/ });
  t.throws(() => w.histogram('h', [1], 1, { bins: -3 }), { message: /bins must be an integer >= 1, got -3/ });
});

test('two writers in one directory get distinct files; readScalars merges a directory', (t) => {
  const dir = tmpDir(t);
  const a = new TensorBoardWriter(dir);
  const b = new TensorBoardWriter(dir);
  t.not(a.path, b.path);
  a.scalar('loss', 4, 20, 1);
  a.scalar('loss', 3, 30, 2);
  b.scalar('loss', 5, 10, 3);
  b.scalar('kl', 0.25, 10, 4);
  a.close();
  b.close();
  fs.mkdirSync(path.join(dir, 'sub')); // subdirectories are other runs and are not read
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'not an event file');
  t.deepEqual(listEventFiles(dir), [a.path, b.path].sort());
  const curves = readScalars(dir);
  t.deepEqual(curves.get('loss'), [
    { step: 10, value: 5, wallTime: 3 },
    { step: 20, value: 4, wallTime: 1 },
    { step: 30, value: 3, wallTime: 2 },
  ]);
  t.deepEqual(curves.get('kl'), [{ step: 10, value: 0.25, wallTime: 4 }]);
  t.throws(() => readScalars(path.join(dir, 'sub')), { message: /no event file .* in directory/ });
});

test('hand-built events survive encode/frame/parse/decode and use the proto field numbers', (t) => {
  const ev: TfEvent = { wallTime: 1.5, step: 300, summary: { value: [{ tag: 'x', simpleValue: 2 }] } };
  const data = encodeEvent(ev);
  // Event: 0x09 wall_time(double) | 0x10 step(varint 300 = ac 02) | 0x2a summary{ 0x0a value{ 0x0a tag, 0x15 float } }
  t.deepEqual(Buffer.from(data).toString('hex'), '09' + '000000000000f83f' + '10ac02' + '2a0a' + '0a08' + '0a0178' + '1500000040');
  const framed = frameRecord(data);
  const parsed = parseRecords(framed);
  t.is(parsed.length, 1);
  t.deepEqual(decodeEvent(parsed[0].data), ev);
  t.is(EventProto.fields.summary.id, 5);
  t.throws(() => encodeEvent({ wallTime: 0, step: 0.5 }), { message: /step must be a safe integer, got 0.5/ });
});
