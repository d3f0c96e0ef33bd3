import test from 'ava';
import { promises as fsp, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encode as r50kEncode } from 'gpt-tokenizer/encoding/r50k_base';
import { loadTokenizer, tokenizerFromJson, type Tokenizer, type TokenizerJson } from '../../core/model/io/tokenizer.js';
import {
  buildGpt2TokenizerJson,
  buildRobertaTokenizerJson,
  loadGpt2TokenizerJsonFromPackage,
  parseVocabBpe,
  type HfTokenizerJson,
} from '../../core/model/io/gpt2-tokenizer-files.js';

const FIXTURES = path.resolve(process.cwd(), 'test/fixtures');
const GPT2_DIR = path.join(FIXTURES, 'tokenizer/gpt2');
const ROBERTA_DIR = path.join(FIXTURES, 'roberta');
const SENTENCES = readFileSync(path.join(FIXTURES, 'tokenizer/sentences.txt'), 'utf8')
  .split('\n')
  .filter((s) => s !== '');

/** Multi-line / whitespace-heavy texts that cannot live one-per-line in sentences.txt. */
const TRICKY = [
  'first line\nsecond line\n\nfourth line after a blank one\n',
  '\n\n\nleading newlines',
  'trailing newlines\n\n\n',
  'windows\r\nline\r\nendings',
  '    four spaces then text',
  'text then four spaces    ',
  'a  b   c    d     e',
  ' \t \n \t mixed whitespace only',
  '   ',
  '\t',
  "He's, she's, it's, they've, I'm, you'll, we'd — and O'Neil's 'quoted' words.",
  "'s's's''s",
  'emoji run 😀😃😄😁😆😅😂🤣 then text',
  'ZWJ 👩‍💻 and variation selector ☺️ and keycap 1️⃣',
  'CJK 漢字かなカナ한글 mixed with ASCII abc123',
  'lone accents ́ ̈ and combining e\u0301',
  'numbers 1234567890 and 3.14159265358979 and 1,000,000',
  '',
];

let gpt2Promise: Promise<Tokenizer> | undefined;
const gpt2 = (): Promise<Tokenizer> => (gpt2Promise ??= loadTokenizer(GPT2_DIR));

test('GPT-2 tokenizer.json loads with pad = eos = bos = <|endoftext|>', async (t) => {
  const tok = await gpt2();
  t.is(tok.vocabSize, 50257);
  t.is(tok.eosTokenId, 50256);
  t.is(tok.bosTokenId, 50256);
  t.is(tok.padTokenId, 50256);
  t.true(tok.padIsEos);
  t.is(tok.eosToken, '<|endoftext|>');
  t.deepEqual(tok.encode('Hello world'), [15496, 995]);
  t.deepEqual(tok.encode(" it's"), [340, 338]);
  t.is(tok.tokenToId('Ġthe'), 262);
  t.is(tok.idToToken(262), 'Ġthe');
});

test('GPT-2 ids match gpt-tokenizer r50k_base on 322 sentences and tricky texts', async (t) => {
  const tok = await gpt2();
  const texts = [...SENTENCES, ...TRICKY];
  t.true(SENTENCES.length >= 300, `only ${SENTENCES.length} sentences`);
  let tokens = 0;
  const mismatches: string[] = [];
  for (const text of texts) {
    const ours = tok.encode(text);
    const ref = r50kEncode(text);
    tokens += ref.length;
    if (JSON.stringify(ours) !== JSON.stringify(ref)) mismatches.push(text);
  }
  t.deepEqual(mismatches, []);
  t.true(tokens > 7000, `only ${tokens} tokens compared`);
});

test('GPT-2 decode(encode(text)) is the identity on unicode, emoji, whitespace runs and contractions', async (t) => {
  const tok = await gpt2();
  for (const text of [...SENTENCES, ...TRICKY]) {
    t.is(tok.decode(tok.encode(text)), text);
  }
  // Typed arrays are accepted too.
  t.is(tok.decode(Int32Array.from(tok.encode('typed 😀'))), 'typed 😀');
});

test('GPT-2 special token is matched in text and skipped on request', async (t) => {
  const tok = await gpt2();
  const ids = tok.encode('<|endoftext|>Hello world<|endoftext|>');
  t.deepEqual(ids, [50256, 15496, 995, 50256]);
  t.is(tok.decode(ids), '<|endoftext|>Hello world<|endoftext|>');
  t.is(tok.decode(ids, { skipSpecialTokens: true }), 'Hello world');
  t.is(tok.decode([50256], { skipSpecialTokens: true }), '');
  t.is(tok.decode([]), '');
});

test('decode clean-up of tokenization spaces is off by default and available on request', async (t) => {
  const tok = await gpt2();
  const ids = tok.encode("Hello , world . It 's fine");
  t.is(tok.decode(ids), "Hello , world . It 's fine");
  t.is(tok.decode(ids, { cleanUpTokenizationSpaces: true }), "Hello, world. It's fine");
});

test('decode rejects ids outside the vocabulary, naming the position and the range', async (t) => {
  const tok = await gpt2();
  t.throws(() => tok.decode([15496, 50257]), { message: /ids\[1\] = 50257 .*\[0, 50257\)/ });
  t.throws(() => tok.decode([-1]), { message: /ids\[0\] = -1/ });
  t.throws(() => tok.decode([1.5]), { message: /ids\[0\] = 1.5/ });
});

test('encodeBatch pads left and right with the pad id and a matching mask', async (t) => {
  const tok = await gpt2();
  const texts = ['Hello world', 'Hi', ''];
  const right = tok.encodeBatch(texts, { padding: 'right' });
  t.deepEqual(right.inputIds, [
    [15496, 995],
    [17250, 50256],
    [50256, 50256],
  ]);
  t.deepEqual(right.attentionMask, [
    [1, 1],
    [1, 0],
    [0, 0],
  ]);
  const left = tok.encodeBatch(texts, { padding: 'left' });
  t.deepEqual(left.inputIds, [
    [15496, 995],
    [50256, 17250],
    [50256, 50256],
  ]);
  t.deepEqual(left.attentionMask, [
    [1, 1],
    [0, 1],
    [0, 0],
  ]);
  const fixed = tok.encodeBatch(['Hi'], { padding: 'left', maxLength: 4, padToMaxLength: true });
  t.deepEqual(fixed.inputIds, [[50256, 50256, 50256, 17250]]);
  t.deepEqual(fixed.attentionMask, [[0, 0, 0, 1]]);
});

test('encodeBatch truncation keeps the first maxLength tokens; without it sequences stay whole', async (t) => {
  const tok = await gpt2();
  const text = 'The quick brown fox jumps over the lazy dog.';
  const full = tok.encode(text);
  t.is(full.length, 10);
  const cut = tok.encodeBatch([text, 'Hi'], { padding: 'right', maxLength: 4, truncation: true });
  t.deepEqual(cut.inputIds, [full.slice(0, 4), [17250, 50256, 50256, 50256]]);
  t.deepEqual(cut.attentionMask, [
    [1, 1, 1, 1],
    [1, 0, 0, 0],
  ]);
  const whole = tok.encodeBatch([text], { padding: 'right', maxLength: 4 });
  t.deepEqual(whole.inputIds, [full]);
  t.throws(() => tok.encodeBatch([text], { padding: 'right', truncation: true }), { message: /truncation=true requires maxLength/ });
  t.throws(() => tok.encodeBatch([text], { padding: 'middle' as 'left' }), { message: /padding must be 'left' or 'right', got "middle"/ });
  t.throws(() => tok.encodeBatch([text], { padding: 'left', maxLength: 0 }), { message: /maxLength must be a positive integer, got 0/ });
});

test('save() writes tokenizer.json + tokenizer_config.json that reload identically', async (t) => {
  const tok = await gpt2();
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'detox-tok-'));
  try {
    await tok.save(dir);
    const written = JSON.parse(await fsp.readFile(path.join(dir, 'tokenizer.json'), 'utf8'));
    const original = JSON.parse(await fsp.readFile(path.join(GPT2_DIR, 'tokenizer.json'), 'utf8'));
    t.deepEqual(written, original);
    t.deepEqual(JSON.parse(JSON.stringify(tok)), original);
    const config = JSON.parse(await fsp.readFile(path.join(dir, 'tokenizer_config.json'), 'utf8'));
    t.like(config, { eos_token: '<|endoftext|>', bos_token: '<|endoftext|>', pad_token: '<|endoftext|>' });
    const again = await loadTokenizer(path.join(dir, 'tokenizer.json'));
    t.is(again.padTokenId, 50256);
    t.false(again.padIsEos); // now declared in tokenizer_config.json
    for (const text of SENTENCES.slice(0, 50)) t.deepEqual(again.encode(text), tok.encode(text));
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

test('buildGpt2TokenizerJson rebuilds the committed tokenizer.json from encoder.json / vocab.bpe form', async (t) => {
  const original = JSON.parse(await fsp.readFile(path.join(GPT2_DIR, 'tokenizer.json'), 'utf8')) as HfTokenizerJson;
  const encoderJson = JSON.stringify(original.model.vocab);
  const vocabBpe = '#version: 0.2\n' + original.model.merges.join('\n') + '\n';
  t.is(parseVocabBpe(vocabBpe).length, 50000);
  t.deepEqual(buildGpt2TokenizerJson(encoderJson, vocabBpe), original);
  t.deepEqual(
    original.added_tokens.map((a) => [a.id, a.content, a.special]),
    [[50256, '<|endoftext|>', true]],
  );
  t.is(original.pre_tokenizer.type, 'ByteLevel');
  t.is(original.decoder.type, 'ByteLevel');
  t.is(original.model.type, 'BPE');
});

test('buildGpt2TokenizerJson reports bad inputs by name', async (t) => {
  const vocab = { a: 0, b: 1, ab: 2, '<|endoftext|>': 3 };
  t.throws(() => buildGpt2TokenizerJson({ a: 0 }, ''), { message: /missing special token <\|endoftext\|>/ });
  t.throws(() => buildGpt2TokenizerJson(vocab, '#version: 0.2\na c\n'), { message: /merge "a c" refers to tokens missing/ });
  t.throws(() => buildGpt2TokenizerJson(vocab, 'a b c\n'), { message: /vocab.bpe line 1: expected "left right"/ });
  t.throws(() => buildGpt2TokenizerJson({ ...vocab, c: 2 }, ''), { message: /id 2 is used twice/ });
  const tiny = tokenizerFromJson(buildGpt2TokenizerJson(vocab, '#version: 0.2\na b\n') as unknown as TokenizerJson);
  t.deepEqual(tiny.encode('abab'), [2, 2]);
  t.is(tiny.eosTokenId, 3);
  await t.throwsAsync(loadGpt2TokenizerJsonFromPackage('detox-lab-no-such-package'), {
    message: /package "detox-lab-no-such-package" with encoder.json and vocab.bpe is not installed/,
  });
});

const roberta = (): Promise<Tokenizer> => loadTokenizer(ROBERTA_DIR);
const reference = JSON.parse(readFileSync(path.join(ROBERTA_DIR, 'reference.json'), 'utf8')) as {
  texts: string[];
  right: { input_ids: number[][]; attention_mask: number[][] };
  truncated: { max_length: number; input_ids: number[][]; attention_mask: number[][] };
};

test('RoBERTa fixture tokenizer matches the Python reference ids (specials, right padding, truncation)', async (t) => {
  const tok = await roberta();
  t.is(tok.bosTokenId, 0);
  t.is(tok.padTokenId, 1);
  t.is(tok.eosTokenId, 2);
  t.false(tok.padIsEos);
  t.is(tok.modelMaxLength, 32);
  t.is(tok.vocabSize, 411);
  const batch = tok.encodeBatch(reference.texts, { padding: 'right' });
  t.deepEqual(batch.inputIds, reference.right.input_ids);
  t.deepEqual(batch.attentionMask, reference.right.attention_mask);
  const cut = tok.encodeBatch(reference.texts, { padding: 'right', maxLength: reference.truncated.max_length, truncation: true });
  t.deepEqual(cut.inputIds, reference.truncated.input_ids);
  t.deepEqual(cut.attentionMask, reference.truncated.attention_mask);
  for (const text of reference.texts) {
    const ids = tok.encode(text);
    t.is(ids[0], 0);
    t.is(ids[ids.length - 1], 2);
    t.deepEqual(tok.encode(text, { addSpecialTokens: false }), ids.slice(1, -1));
    t.is(tok.decode(ids, { skipSpecialTokens: true }), text);
    t.is(tok.decode(ids), `<s>${text}</s>`);
  }
});

test('RoBERTa tokenizer.json is rebuilt from vocab.json + merges.txt, and special tokens are inferred without config', async (t) => {
  const fast = await roberta();
  const slow = await loadTokenizer(path.join(ROBERTA_DIR, 'slow-tokenizer'));
  const a = fast.toJSON() as unknown as HfTokenizerJson;
  const b = slow.toJSON() as unknown as HfTokenizerJson;
  t.deepEqual(b.model, a.model);
  t.deepEqual(b.post_processor, a.post_processor);
  t.deepEqual(b.pre_tokenizer, a.pre_tokenizer);
  t.deepEqual(
    b.added_tokens.map((x) => [x.id, x.content, x.lstrip]),
    a.added_tokens.map((x) => [x.id, x.content, x.lstrip]),
  );
  for (const text of reference.texts) t.deepEqual(slow.encode(text), fast.encode(text));
  const bare = tokenizerFromJson(fast.toJSON());
  t.deepEqual([bare.bosToken, bare.eosToken, bare.padToken], ['<s>', '</s>', '<pad>']);
  t.deepEqual([bare.bosTokenId, bare.eosTokenId, bare.padTokenId], [0, 2, 1]);
  t.is(bare.modelMaxLength, undefined);
  const direct = buildRobertaTokenizerJson(JSON.stringify(a.model.vocab), a.model.merges.join('\n'));
  t.deepEqual(direct.model, a.model);
});

test('loadTokenizer and overrides report missing files and unknown tokens by name', async (t) => {
  await t.throwsAsync(loadTokenizer(path.join(FIXTURES, 'no-such-dir')), { message: /no-such-dir does not exist/ });
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'detox-tok-'));
  try {
    await t.throwsAsync(loadTokenizer(dir), { message: /no tokenizer.json \(nor vocab.json \+ merges.txt/ });
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
  const json = (await gpt2()).toJSON();
  t.throws(() => tokenizerFromJson(json, {}, { padToken: '<nope>' }), { message: /pad token "<nope>" is not in the vocabulary/ });
  const withPad = tokenizerFromJson(json, {}, { padToken: '!' });
  t.is(withPad.padTokenId, 0);
  t.false(withPad.padIsEos);
});
