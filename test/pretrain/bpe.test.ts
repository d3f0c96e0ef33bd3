/**
 * Byte-level BPE training: GPT-2's byte alphabet and pre-tokenisation, merges equal to an independent naive Python
 * trainer (test/fixtures/pretrain/make_bpe_fixture.py), a hand-checked example, determinism, and the trained
 * tokenizer.json loaded by core/model/io/tokenizer.ts (unicode round trip, training pieces encoded into the merges).
 */
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { byteAlphabet, bytesToUnicode, countPieces, END_OF_TEXT, preTokenize, toByteLevel, trainBpe } from '../../core/pretrain/bpe.js';
import { tokenizerFromJson, type TokenizerJson } from '../../core/model/io/tokenizer.js';

const FIXTURES = path.resolve(process.cwd(), 'test/fixtures/pretrain');
const corpusLines = fs
  .readFileSync(path.join(FIXTURES, 'bpe-corpus.txt'), 'utf8')
  .split('\n')
  .filter((l) => l.length > 0);
const reference = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'bpe-merges.json'), 'utf8')) as {
  cases: { vocabSize: number; minFrequency: number; finalVocabSize: number; merges: string[] }[];
  pieces: string[][];
};

test("bytesToUnicode is GPT-2's byte alphabet", (t) => {
  const enc = bytesToUnicode();
  t.is(enc.length, 256);
  t.is(new Set(enc).size, 256);
  t.is(enc[32], 'Ġ'); // space
  t.is(enc[10], 'Ċ'); // newline
  t.is(enc[0], '\u0100');
  t.is(enc[127], '\u0121');
  t.is(enc[173], '\u0143');
  t.is(enc[33], '!');
  t.is(enc[255], 'ÿ');
  const alphabet = byteAlphabet();
  t.is(alphabet[0], '!'); // GPT-2 id 0
  t.is(alphabet[93], '~'); // GPT-2 id 93
  t.is(alphabet[94], '¡'); // GPT-2 id 94
  t.is(alphabet[188], '\u0100'); // GPT-2 id 188
  t.is(alphabet[255], '\u0143'); // GPT-2 id 255
  t.is(toByteLevel(' héllo\n'), 'ĠhÃ©lloĊ');
});

test('preTokenize splits every corpus line exactly as the hand-written Python pre-tokenizer', (t) => {
  t.is(reference.pieces.length, corpusLines.length);
  corpusLines.forEach((line, i) => t.deepEqual(preTokenize(line), reference.pieces[i]!, `line ${i + 1}: ${JSON.stringify(line)}`));
  t.deepEqual(preTokenize("I'll  go, ok?  "), ['I', "'ll", ' ', ' go', ',', ' ok', '?', '  ']);
});

test('merges equal the naive reference trainer (recount every merge) for three settings', (t) => {
  for (const c of reference.cases) {
    const m = trainBpe(corpusLines, { vocabSize: c.vocabSize, minFrequency: c.minFrequency });
    t.deepEqual(m.merges, c.merges, `vocabSize ${c.vocabSize}, minFrequency ${c.minFrequency}`);
    t.is(Object.keys(m.vocab).length, c.finalVocabSize);
    t.is(m.endOfTextId, c.finalVocabSize - 1);
  }
  // The 5000 case stops early: its last merge was seen at least minFrequency (3) times and no pair was left at 3.
  const early = trainBpe(corpusLines, { vocabSize: 5000, minFrequency: 3 });
  t.true(early.stats.mergeCounts.every((n, i) => n >= 3 && (i === 0 || n <= early.stats.mergeCounts[i - 1]!)));
});

test('hand-checked: "aaabdaaabac" merges aa, ab, then aaab (ties go to the older symbols)', (t) => {
  // Pair counts: aa 4, ab 2, bd/da/ba/ac 1 → "a a". Then aa·a 2 and a·b 2 tie: (id a, id b) < (id aa, id a) → "a b".
  // Then aa·ab 2 → "aa ab". Every pair is now seen once: with minFrequency 1, ties by smallest left id:
  // a·c, then d·aaab, then aaab·daaab, then aaabdaaab·ac.
  t.deepEqual(trainBpe(['aaabdaaabac'], { vocabSize: 300 }).merges, ['a a', 'a b', 'aa ab']);
  const all = trainBpe(['aaabdaaabac'], { vocabSize: 300, minFrequency: 1 });
  t.deepEqual(all.merges, ['a a', 'a b', 'aa ab', 'a c', 'd aaab', 'aaab daaab', 'aaabdaaab ac']);
  t.is(all.vocab['aaabdaaabac'], 262);
  t.is(all.vocab[END_OF_TEXT], 263);
  t.deepEqual(all.stats.mergeCounts, [4, 2, 2, 1, 1, 1, 1]);
  // The vocabulary size bounds the merges: 256 bytes + 2 merges + end of text.
  t.deepEqual(trainBpe(['aaabdaaabac'], { vocabSize: 259, minFrequency: 1 }).merges, ['a a', 'a b']);
});

test('training is deterministic and independent of line order', (t) => {
  const a = trainBpe(corpusLines, { vocabSize: 600 });
  const b = trainBpe([...corpusLines].reverse(), { vocabSize: 600 });
  const c = trainBpe(countPieces(corpusLines), { vocabSize: 600 });
  t.is(JSON.stringify(a.tokenizerJson), JSON.stringify(b.tokenizerJson));
  t.is(JSON.stringify(a.tokenizerJson), JSON.stringify(c.tokenizerJson));
});

test('the tokenizer.json loads; unicode round trip; training pieces encode into the learned merges', (t) => {
  const m = trainBpe(corpusLines, { vocabSize: 700 });
  const json = m.tokenizerJson;
  t.is(json.model.type, 'BPE');
  t.is(json.pre_tokenizer.type, 'ByteLevel');
  t.is(json.decoder.type, 'ByteLevel');
  t.deepEqual(
    json.added_tokens.map((a) => [a.content, a.id, a.special]),
    [[END_OF_TEXT, 699, true]],
  );
  const tok = tokenizerFromJson(json as unknown as TokenizerJson);
  t.is(tok.vocabSize, 700);
  t.is(tok.eosTokenId, 699);
  t.is(tok.bosTokenId, 699);
  t.is(tok.padTokenId, 699);
  for (const line of corpusLines) t.is(tok.decode(tok.encode(line)), line);
  const extra = 'Zürich 東京 🙂👍🏽 naïve — “quotes” \t tabs  and  spaces\u00a0nbsp 1234567 <|endoftext|>';
  t.is(tok.decode(tok.encode(extra)), extra);
  t.is(tok.encode(extra).at(-1), 699);

  // Applying the merges in order, left to right, to each training piece gives the trainer's segmentation; the
  // loaded tokenizer must produce the same tokens.
  const rank = m.merges.map((r) => r.split(' ') as [string, string]);
  const pieces = [...countPieces(corpusLines).keys()];
  let wholeWords = 0;
  for (const piece of pieces) {
    let syms = [...toByteLevel(piece)];
    for (const [a, b] of rank) {
      const next: string[] = [];
      for (let i = 0; i < syms.length; i++) {
        if (i + 1 < syms.length && syms[i] === a && syms[i + 1] === b) {
          next.push(a + b);
          i++;
        } else next.push(syms[i]!);
      }
      syms = next;
    }
    const ids = syms.map((s) => m.vocab[s]!);
    t.deepEqual(tok.encode(piece), ids, JSON.stringify(piece));
    if (ids.length === 1 && piece.length > 3) wholeWords++;
  }
  t.true(wholeWords >= 60, `${wholeWords} pieces longer than 3 characters are single tokens`); // measured: 79
  t.deepEqual(tok.encode(' the'), [m.vocab['Ġthe']!]);
});

test('options are checked', (t) => {
  t.throws(() => trainBpe(['x'], { vocabSize: 256 }), { message: /vocabSize must be an integer in \[257, 65536\]/ });
  t.throws(() => trainBpe(['x'], { vocabSize: 300, minFrequency: 0 }), { message: /minFrequency must be an integer ≥ 1/ });
  t.throws(() => trainBpe(new Map([['x', 0]]), { vocabSize: 300 }), { message: /count of piece "x" must be a positive integer/ });
  // Nothing to merge: only the bytes and the end-of-text token.
  const tiny = trainBpe(['a b c'], { vocabSize: 400 });
  t.deepEqual(tiny.merges, []);
  t.is(tiny.endOfTextId, 256);
});
