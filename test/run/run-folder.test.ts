import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { TensorBoardWriter } from '../../core/logging/tensorboard.js';
import { listEventFiles, readScalars } from '../../core/logging/tfevents.js';
import { acquireRunLock, lockState, LOCK_FILE, RunFolderError, truncateRunOutputs } from '../../core/training/run-folder.js';
import { checkpointProblem, MANIFEST, pruneCheckpoints, stepCheckpoints } from '../../core/training/checkpoint.js';
import { tmpProject } from '../helpers/tmp.js';

/** The pid of a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

test('truncateRunOutputs keeps steps ≤ the checkpoint in samples.jsonl and every event file, and drops a record cut by a crash', (t) => {
  const dir = tmpProject({});
  const lines = [0, 1, 2, 3].flatMap((s) => [JSON.stringify({ step: s + 1, prompt: 'p' }), JSON.stringify({ step: s + 1, prompt: 'q' })]);
  fs.writeFileSync(path.join(dir, 'samples.jsonl'), `${lines.join('\n')}\n{"step": 5, "pro`);
  const w = new TensorBoardWriter(dir, { flushEverySeconds: 0 });
  w.scalar('eval/toxicity_mean', 0.5, 0);
  for (let s = 1; s <= 4; s++) w.scalar('objective/kl', s / 10, s);
  w.close();
  fs.appendFileSync(w.path, Buffer.from([7, 0, 0, 0, 0, 0])); // half a record header
  const cut = truncateRunOutputs(dir, 2);
  t.deepEqual(cut, { samples: 5, events: 3 });
  t.deepEqual(
    fs
      .readFileSync(path.join(dir, 'samples.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).step),
    [1, 1, 2, 2],
  );
  const curves = readScalars(dir);
  t.deepEqual(
    curves.get('objective/kl')!.map((p) => p.step),
    [1, 2],
  );
  t.deepEqual(
    curves.get('eval/toxicity_mean')!.map((p) => p.step),
    [0],
  );
  t.is(truncateRunOutputs(dir, 0).samples, 4, 'a start in place keeps nothing');
  t.deepEqual(listEventFiles(dir), [], 'an event file left without summaries is removed');
});

test('run lock: exclusive, a stale lock of a dead process is reported and taken, released only by its owner', (t) => {
  const dir = path.join(tmpProject({}), 'runs/x/main');
  const lock = acquireRunLock(dir);
  t.is(lockState(dir)!.owner.pid, process.pid);
  lock.release();
  t.false(fs.existsSync(path.join(dir, LOCK_FILE)));

  fs.writeFileSync(
    path.join(dir, LOCK_FILE),
    JSON.stringify({ pid: deadPid(), host: os.hostname(), command: 'run', startedAt: 'earlier' }),
  );
  t.true(lockState(dir)!.stale);
  const logs: string[] = [];
  const taken = acquireRunLock(dir, (m) => logs.push(m));
  t.regex(logs.join('\n'), /taking over the lock of .* left by pid \d+ on .* since earlier \(run\), which is no longer running/);
  fs.writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid: 1, host: os.hostname(), command: 'run', startedAt: 'now' }));
  taken.release();
  t.true(fs.existsSync(path.join(dir, LOCK_FILE)), 'a lock taken by another process is not removed');
  const e = t.throws(() => acquireRunLock(dir), { instanceOf: RunFolderError });
  t.regex(e!.message, /is in use by pid 1 on /);
});

test('checkpoints: manifest sizes and checksums, legacy folders, pruning keeps the newest and never failed-step', (t) => {
  const run = tmpProject({});
  const make = (name: string, withManifest: boolean) => {
    const dir = path.join(run, 'checkpoints', name);
    const files: Record<string, string> = {
      'trainer-state.json': '{"version":1}',
      'optimiser.safetensors': 'xxxx',
      'policy/config.json': '{}',
      'policy/model.safetensors': 'yyyyyy',
    };
    for (const [rel, body] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      fs.writeFileSync(path.join(dir, rel), body);
    }
    if (withManifest) {
      const sha = (s: string) => createHash('sha256').update(s).digest('hex');
      fs.writeFileSync(
        path.join(dir, MANIFEST),
        JSON.stringify({
          format: 'detox-lab-checkpoint',
          version: 1,
          files: Object.fromEntries(Object.entries(files).map(([rel, body]) => [rel, { bytes: body.length, sha256: sha(body) }])),
        }),
      );
    }
    return dir;
  };
  const legacy = make('step-1', false);
  t.is(checkpointProblem(legacy), null);
  fs.rmSync(path.join(legacy, 'optimiser.safetensors'));
  t.is(checkpointProblem(legacy), 'missing optimiser.safetensors');
  const good = make('step-2', true);
  t.is(checkpointProblem(good, 'checksums'), null);
  fs.writeFileSync(path.join(good, 'policy/model.safetensors'), 'zzzzzz');
  t.is(checkpointProblem(good), null, 'sizes alone cannot see a same-size change');
  t.is(checkpointProblem(good, 'checksums'), 'policy/model.safetensors does not match its sha256 in the manifest');
  fs.writeFileSync(path.join(good, 'policy/model.safetensors'), 'z');
  t.is(checkpointProblem(good), 'policy/model.safetensors has 1 bytes, the manifest says 6');
  make('step-3', true);
  make('step-10', true);
  make('failed-step-11', true);
  t.deepEqual(
    stepCheckpoints(run).map((c) => c.step),
    [10, 3, 2, 1],
  );
  t.deepEqual(pruneCheckpoints(run, null), []);
  t.deepEqual(
    pruneCheckpoints(run, 2).map((d) => path.basename(d)),
    ['step-2', 'step-1'],
  );
  t.deepEqual(fs.readdirSync(path.join(run, 'checkpoints')).sort(), ['failed-step-11', 'step-10', 'step-3']);
});
