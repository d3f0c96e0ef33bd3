import test from 'ava';
import { loadBuiltinCorpus, promptOf, textHash, TOXIC_REPEAT, HELD_OUT_SHARE } from '../../plugins/datasets/builtin/corpus.js';

test('built-in corpus: held-out prompts never appear in the pretraining text or the training prompts', (t) => {
  const c = loadBuiltinCorpus();
  t.true(c.trainPrompts.length > 1000, `${c.trainPrompts.length} training prompts`);
  t.true(c.heldOutPrompts.length > 150, `${c.heldOutPrompts.length} held-out prompts`);
  const share = c.heldOutPrompts.length / (c.heldOutPrompts.length + c.trainPrompts.length);
  t.true(Math.abs(share - HELD_OUT_SHARE) < 0.03, `held-out share ${share}`);
  const norm = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, '');
  const pretrain = new Set(c.pretrainText.map(norm));
  for (const p of c.heldOutPrompts) t.false(pretrain.has(norm(p.sentence)), p.id);
  const train = new Set(c.trainPrompts.map((p) => norm(p.sentence)));
  for (const p of c.heldOutPrompts) t.false(train.has(norm(p.sentence)));
  for (const p of [...c.trainPrompts, ...c.heldOutPrompts]) t.true(p.toxicity >= 0.5 && p.sentence.startsWith(p.text));
  const first = c.trainPrompts[0]!.sentence;
  t.is(c.pretrainText.filter((s) => s === first).length % TOXIC_REPEAT, 0);
});

test('prompts are first halves; the split hash is stable and order-free', (t) => {
  t.is(promptOf('one two three four five six seven'), 'one two three four');
  t.is(promptOf('a b c d'), 'a b c');
  t.is(textHash('Hello, World!'), textHash('hello world'));
  t.not(textHash('hello world'), textHash('hello there'));
});

test('built-in corpus: the lexicon scores are cached on disk; a cached, a re-scored and a corrupted-cache load agree', async (t) => {
  const { cacheDir } = await import('../../plugins/datasets/builtin/corpus.js');
  const fs = await import('node:fs');
  const path = await import('node:path');
  const { spawnSync } = await import('node:child_process');
  const module = path.resolve('dist/plugins/datasets/builtin/corpus.js');
  // A fresh process per load (the result is also kept per process): prints a digest of the splits and the time.
  const load = () => {
    const r = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `
      const { createHash } = await import('node:crypto');
      const m = await import(${JSON.stringify(module)});
      const t0 = performance.now();
      const c = m.loadBuiltinCorpus();
      const ms = performance.now() - t0;
      const digest = createHash('sha256').update(JSON.stringify([c.trainPrompts, c.heldOutPrompts, c.pretrainText.length, c.counts])).digest('hex');
      console.log(JSON.stringify({ digest, ms }));`,
      ],
      { encoding: 'utf8' },
    );
    if (r.status !== 0) throw new Error(r.stderr);
    return JSON.parse(r.stdout) as { digest: string; ms: number };
  };
  const files = () =>
    fs.existsSync(cacheDir()) ? fs.readdirSync(cacheDir()).filter((f) => f.startsWith('builtin-corpus-') && f.endsWith('.json')) : [];
  // Files of earlier builds (another scorer, another key) are never read or rewritten again: start without them.
  for (const f of files()) fs.rmSync(path.join(cacheDir(), f));
  load(); // a fresh process scores and writes the cache
  t.is(files().length, 1, 'a cache file was written');
  const cachedRun = load();
  for (const f of files()) fs.writeFileSync(path.join(cacheDir(), f), '{ not json');
  const rescored = load();
  t.is(rescored.digest, cachedRun.digest);
  t.true(rescored.ms > cachedRun.ms, `re-scoring (${rescored.ms.toFixed(0)} ms) is slower than the cache (${cachedRun.ms.toFixed(0)} ms)`);
  const again = load(); // the corrupted file was rewritten by the re-scoring load
  t.is(again.digest, cachedRun.digest);
  for (const f of files()) t.notThrows(() => JSON.parse(fs.readFileSync(path.join(cacheDir(), f), 'utf8')));
});
