/** Corpus reading, seeded split, packing with <|endoftext|> and the training windows. */
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { packLines, readCorpusFiles, splitCorpus, TokenWindows } from '../../core/pretrain/corpus.js';

test('readCorpusFiles: several files, .gz, blank lines skipped, trailing whitespace and CRLF removed', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pretrain-corpus-'));
  fs.writeFileSync(path.join(dir, 'a.txt'), '\ufeffhello there  \r\n\r\n  indented stays\n');
  fs.writeFileSync(path.join(dir, 'b.txt.gz'), zlib.gzipSync('second file\n\n'));
  t.deepEqual(await readCorpusFiles([path.join(dir, 'a.txt'), path.join(dir, 'b.txt.gz')]), [
    'hello there',
    '  indented stays',
    'second file',
  ]);
  await t.throwsAsync(readCorpusFiles([path.join(dir, 'missing.txt')]), { message: /corpus\[0\]: data file not found: .*missing\.txt/ });
  await t.throwsAsync(readCorpusFiles([]), { message: /corpus: give at least one corpus file/ });
  fs.rmSync(dir, { recursive: true });
});

test('splitCorpus: seeded, disjoint, complete, sized by evalFraction and capped', (t) => {
  const lines = Array.from({ length: 100 }, (_, i) => `line ${i}`);
  const a = splitCorpus(lines, { seed: 1, evalFraction: 0.1 });
  t.is(a.heldOut.length, 10);
  t.is(a.train.length, 90);
  t.deepEqual([...a.heldOut, ...a.train].sort(), [...lines].sort());
  t.deepEqual(splitCorpus(lines, { seed: 1, evalFraction: 0.1 }), a);
  t.notDeepEqual(splitCorpus(lines, { seed: 2, evalFraction: 0.1 }).heldOut, a.heldOut);
  t.not(a.train.join('|'), lines.slice(10).join('|'), 'the training lines are shuffled');
  t.is(splitCorpus(lines, { seed: 1, evalFraction: 0.1, maxEvalLines: 3 }).heldOut.length, 3);
  t.is(splitCorpus(lines, { seed: 1, evalFraction: 0.001 }).heldOut.length, 1, 'at least one held-out line');
  t.is(splitCorpus(lines, { seed: 1, evalFraction: 0 }).heldOut.length, 0);
  t.throws(() => splitCorpus(lines, { seed: 1, evalFraction: 1 }), { message: /evalFraction must be in \[0, 1\), got 1/ });
});

test('packLines puts <|endoftext|> before every line and at the end', (t) => {
  const encode = (s: string) => [...s].map((c) => c.charCodeAt(0) - 96); // a → 1
  t.deepEqual(Array.from(packLines(['ab', 'c', ''], encode, 0)), [0, 1, 2, 0, 3, 0, 0]);
  t.deepEqual(Array.from(packLines([], encode, 9)), [9]);
});

test('TokenWindows: targets are inputs shifted by one; each epoch visits every window once in a seeded order', (t) => {
  const stream = Int32Array.from({ length: 23 }, (_, i) => 100 + i);
  const w = new TokenWindows(stream, 5, 7);
  t.is(w.count, 4); // windows start at 0, 5, 10, 15 and need T + 1 = 6 tokens: (23 - 1) / 5 → 4
  t.is(w.tokensPerEpoch, 20);
  const seen: number[] = [];
  for (let i = 0; i < 4; i++) {
    const { inputs, targets } = w.nextBatch(1);
    t.deepEqual(
      Array.from(targets),
      Array.from(inputs, (x) => x + 1),
    );
    seen.push(inputs[0]!);
  }
  t.deepEqual(
    [...seen].sort((x, y) => x - y),
    [100, 105, 110, 115],
  );
  t.is(w.epoch, 1);
  const b = w.nextBatch(6); // crosses into the third epoch
  t.is(b.inputs.length, 30);
  t.is(w.epoch, 2);
  const again = new TokenWindows(stream, 5, 7);
  const first = Array.from({ length: 4 }, () => again.nextBatch(1).inputs[0]!);
  t.deepEqual(first, seen, 'same seed, same order');
  const ev = w.slice(2, 5);
  t.is(ev.rows, 2);
  t.deepEqual(Array.from(ev.inputs), [110, 111, 112, 113, 114, 115, 116, 117, 118, 119]);
  t.deepEqual(Array.from(ev.targets), [111, 112, 113, 114, 115, 116, 117, 118, 119, 120]);
  t.is(new TokenWindows(Int32Array.of(1, 2, 3), 5, 0).count, 0);
  t.throws(() => new TokenWindows(Int32Array.of(1, 2, 3), 5, 0).nextBatch(1), { message: /too few tokens \(3\) for one window of 6/ });
});
