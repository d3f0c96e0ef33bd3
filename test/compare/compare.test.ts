import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { TensorBoardWriter } from '../../core/logging/tensorboard.js';
import { compareExperiment, comparePlot } from '../../core/compare/compare.js';
import { formatCsv, formatJson, formatMarkdown } from '../../core/compare/format.js';
import { readCurves } from '../../core/compare/read-arms.js';
import { tmpProject } from '../helpers/tmp.js';

const T1 = 12.706204736174696; // t(0.975, 1)
const STEPS = 12;

/** An arm folder as `detox-lab run` leaves it: configs, summary, and TensorBoard curves (values exact in float32). */
function writeArm(
  dir: string,
  o: {
    name: string;
    index?: number;
    transform: string;
    seed: number;
    rewardAt: (k: number) => number;
    klAt: (k: number) => number;
    toxBefore: number;
    toxAfter: number;
    events?: boolean;
    summary?: boolean;
    grid?: object;
  },
): void {
  const d = path.join(dir, o.name);
  fs.mkdirSync(d, { recursive: true });
  const config = { experiment: 'x', seed: o.seed, reward: { transform: { type: o.transform } }, train: { steps: STEPS } };
  fs.writeFileSync(path.join(d, 'resolved-config.json'), JSON.stringify({ ...config, $source: { files: [], baseDir: dir } }));
  if (o.index !== undefined) {
    fs.writeFileSync(
      path.join(d, 'arm.json'),
      JSON.stringify({
        arm: o.name,
        index: o.index,
        settings: { 'reward.transform.type': o.transform, seed: o.seed },
        grid: o.grid ?? { 'reward.transform.type': ['a', 'b'], seed: [0, 1] },
      }),
    );
  }
  if (o.summary !== false) {
    fs.writeFileSync(
      path.join(d, 'summary.json'),
      JSON.stringify({
        status: 'done',
        step: STEPS,
        totalSteps: STEPS,
        elapsedMs: 1000 * (10 + o.seed),
        peakRssBytes: (100 + o.seed) * 2 ** 20,
        final: { 'env/reward_mean': o.rewardAt(STEPS), 'objective/kl': o.klAt(STEPS) },
        lastK: { 'env/reward_mean': 99, 'objective/kl': 99 },
        evalBefore: { toxicity: { mean: o.toxBefore, std: 0.125, n: 4 }, distinct1: 0.5, distinct2: 0.75, distinct3: 1, perplexity: 200 },
        evalAfter: {
          toxicity: { mean: o.toxAfter, std: 0.0625, n: 4 },
          distinct1: 0.5,
          distinct2: 0.875,
          distinct3: 1,
          perplexity: 210 + o.seed,
        },
      }),
    );
  }
  if (o.events !== false) {
    const w = new TensorBoardWriter(d, { flushEverySeconds: 0 });
    w.scalar('eval/toxicity_mean', o.toxBefore, 0);
    for (let k = 1; k <= STEPS; k++) {
      w.scalar('env/reward_mean', o.rewardAt(k), k);
      w.scalar('objective/kl', o.klAt(k), k);
      w.scalar('env/toxicity_mean', 0.5 - k / 64, k);
    }
    w.scalar('eval/toxicity_mean', o.toxAfter, STEPS);
    w.close();
  }
}

/** Two settings × two seeds, plus folders compare must ignore. */
function gridFolder(): string {
  const dir = path.join(tmpProject({}), 'runs', 'x');
  let index = 0;
  for (const transform of ['a', 'b']) {
    for (const seed of [0, 1]) {
      writeArm(dir, {
        name: `transform-${transform}_seed-${seed}`,
        index: index++,
        transform,
        seed,
        rewardAt: (k) => k / 8 + seed + (transform === 'b' ? 10 : 0),
        klAt: (k) => seed / 4 + k / 16,
        toxBefore: 0.25,
        toxAfter: transform === 'a' ? 0.125 + seed / 8 : 0.5,
      });
    }
  }
  writeArm(dir, {
    name: 'transform-a_seed-0.old-2024',
    transform: 'a',
    seed: 0,
    rewardAt: () => 1000,
    klAt: () => 0,
    toxBefore: 0,
    toxAfter: 0,
  });
  fs.mkdirSync(path.join(dir, 'eval'));
  fs.writeFileSync(path.join(dir, 'eval', 'eval.json'), '{}');
  return dir;
}

const close = (t: { true: (c: boolean, m?: string) => void }, a: number, b: number, tol = 1e-9) =>
  t.true(Math.abs(a - b) <= tol, `${a} vs ${b}`);

test('seeds of one setting form a row: mean ± t(0.975, n−1)·s/√n of each figure', (t) => {
  const dir = gridFolder();
  const r = compareExperiment(dir);
  t.deepEqual(
    r.arms.map((a) => a.name),
    ['transform-a_seed-0', 'transform-a_seed-1', 'transform-b_seed-0', 'transform-b_seed-1'],
  );
  t.true(r.grouped);
  t.deepEqual(
    r.rows.map((row) => [row.label, row.n, row.seeds, row.status, row.steps]),
    [
      ['transform-a', 2, [0, 1], 'done', '12'],
      ['transform-b', 2, [0, 1], 'done', '12'],
    ],
  );
  const a = r.rows[0]!.metrics;
  // reward_final: 1.5 and 2.5 → mean 2, s = √0.5, CI = t·s/√2 = t/2.
  t.deepEqual(a.reward_final!.values, [1.5, 2.5]);
  t.is(a.reward_final!.mean, 2);
  close(t, a.reward_final!.ci95!, T1 / 2);
  // last-K (K = 10) from the curves, steps 3..12: mean of k/8 = 7.5/8, plus the seed.
  t.deepEqual(a.reward_lastk!.values, [7.5 / 8, 7.5 / 8 + 1]);
  t.deepEqual(a.kl_final!.values, [12 / 16, 0.25 + 12 / 16]);
  // reward rises by 1/8 per step: mean |Δ| = 0.125.
  t.deepEqual(a.reward_roughness!.values, [0.125, 0.125]);
  t.deepEqual(a.toxicity_before!.values, [0.25, 0.25]);
  t.is(a.toxicity_before!.ci95, 0);
  t.deepEqual(a.toxicity_after!.values, [0.125, 0.25]);
  close(t, a.toxicity_after!.ci95!, (T1 * Math.sqrt(0.0078125)) / Math.SQRT2);
  t.deepEqual(a.toxicity_after_std!.values, [0.0625, 0.0625]);
  t.deepEqual(a.distinct2_after!.values, [0.875, 0.875]);
  t.deepEqual(a.perplexity_after!.values, [210, 211]);
  t.deepEqual(a.wall_s!.values, [10, 11]);
  t.deepEqual(a.peak_rss_mib!.values, [100, 101]);
  t.is(r.rows[1]!.metrics.reward_final!.mean, 12);
  // --last-k
  const k4 = compareExperiment(dir, { lastK: 4 });
  t.deepEqual(k4.rows[0]!.metrics.reward_lastk!.values, [10.5 / 8, 10.5 / 8 + 1]);
});

test('markdown, CSV and JSON carry the same figures', (t) => {
  const r = compareExperiment(gridFolder());
  const md = formatMarkdown(r);
  const lines = md.split('\n');
  t.regex(
    lines[0]!,
    /^\| arm +\| n \| seeds \| status \| steps \| reward \(final\) +\| reward \(last-K\) +\| KL \(final\) +\| KL \(last-K\) +\| reward roughness +\| toxicity before +\| toxicity after +\| distinct-2 \(after\) \| perplexity \(after\) \| wall time +\| peak RSS +\|$/,
  );
  t.regex(lines[2]!, new RegExp(`^\\| transform-a +\\| 2 \\| 0 1 +\\| done +\\| 12 +\\| 2\\.0000 ± ${(T1 / 2).toFixed(4)} +\\|`));
  t.regex(
    lines[2]!,
    /\| 0\.2500 ± 0\.0000 +\| 0\.1875 ± 0\.7941 +\| 0\.8750 ± 0\.0000 +\| 210\.50 ± 6\.35 +\| 10\.5 ± 6\.4 s \| 101 ± 6 MiB \|$/,
  );
  t.regex(md, /mean ± 95% CI of the mean across seeds, t\(0\.975, n−1\)·s\/√n/);

  const csv = formatCsv(r)
    .split('\n')
    .map((l) => l.split(','));
  t.is(csv.length, 3);
  const col = (name: string) => csv[0]!.indexOf(name);
  t.deepEqual(csv[0]!.slice(0, 8), ['arm', 'arms', 'n', 'seeds', 'status', 'steps', 'reward_final', 'reward_final_ci95']);
  t.is(csv[1]![col('arms')], 'transform-a_seed-0 transform-a_seed-1');
  t.is(Number(csv[1]![col('reward_final')]), 2);
  close(t, Number(csv[1]![col('reward_final_ci95')]), T1 / 2);
  t.is(Number(csv[2]![col('toxicity_after')]), 0.5);

  const json = JSON.parse(formatJson(r));
  t.is(json.lastK, 10);
  t.true(json.grouped);
  t.is(json.rows[0].metrics.reward_final.mean, 2);
  t.deepEqual(json.arms[1].settings, { 'reward.transform.type': 'a', seed: 1 });
  t.is(json.arms[1].metrics.reward_final, 2.5);
});

test('without a seed axis each arm is a row; toxicity is mean ± std; missing figures fall back or show —', (t) => {
  const dir = path.join(tmpProject({}), 'runs', 'y');
  writeArm(dir, { name: 'seed-10', transform: 'a', seed: 10, rewardAt: (k) => k, klAt: () => 0.5, toxBefore: 0.25, toxAfter: 0.125 });
  writeArm(dir, {
    name: 'seed-2',
    transform: 'b',
    seed: 2,
    rewardAt: (k) => -k,
    klAt: () => 0.25,
    toxBefore: 0.25,
    toxAfter: 0.375,
    events: false,
  });
  writeArm(dir, {
    name: 'R&D <1>',
    transform: 'c',
    seed: 3,
    rewardAt: (k) => k,
    klAt: () => 0,
    toxBefore: 0.5,
    toxAfter: 0.5,
    summary: false,
  });
  const r = compareExperiment(dir);
  t.false(r.grouped);
  t.deepEqual(
    r.rows.map((x) => x.label),
    ['R&D <1>', 'seed-2', 'seed-10'],
  ); // natural order
  const noEvents = r.arms.find((a) => a.name === 'seed-2')!;
  t.is(noEvents.metrics.reward_final, -12); // from summary.final
  t.is(noEvents.metrics.reward_lastk, 99); // summary.lastK is the last-10 mean
  t.true(Number.isNaN(compareExperiment(dir, { lastK: 5 }).arms.find((a) => a.name === 'seed-2')!.metrics.reward_lastk!));
  const noSummary = r.arms.find((a) => a.name === 'R&D <1>')!;
  t.is(noSummary.status, 'no summary');
  t.is(noSummary.steps, 12);
  t.is(noSummary.metrics.toxicity_after, 0.5); // from the eval/toxicity_mean curve
  t.true(Number.isNaN(noSummary.metrics.wall_s!));
  const md = formatMarkdown(r);
  t.regex(
    md,
    /\| seed-10 +\| done +\| 12 +\| 12\.0000 +\| 7\.5000 +\| 0\.5000 +\| 0\.5000 +\| 1\.0000 +\| 0\.2500 ± 0\.1250 +\| 0\.1250 ± 0\.0625 +\|/,
  );
  t.regex(md, /\| R&D <1> +\| no summary \| 12 .*\| — +\| — +\|$/m);
  t.regex(md, /toxicity: mean ± population std over the continuations/);
  // One arm folder on its own.
  t.deepEqual(
    compareExperiment(path.join(dir, 'seed-10')).arms.map((a) => a.name),
    ['seed-10'],
  );
  t.throws(() => compareExperiment(path.join(dir, '..')), { message: /no arm folders in .*runs/ });
});

test('arms are in grid order when they share one grid, else in natural name order', (t) => {
  const dir = path.join(tmpProject({}), 'runs', 'o');
  const arm = (name: string, index: number, grid: object) =>
    writeArm(dir, {
      name,
      index,
      grid,
      transform: 'a',
      seed: index,
      rewardAt: (k) => k,
      klAt: () => 0,
      toxBefore: 0,
      toxAfter: 0,
      events: false,
    });
  const grid = { seed: [10, 2, 1] };
  arm('seed-10', 0, grid);
  arm('seed-2', 1, grid);
  arm('seed-1', 2, grid);
  t.deepEqual(
    compareExperiment(dir).arms.map((a) => a.name),
    ['seed-10', 'seed-2', 'seed-1'],
  );
  arm('seed-1', 0, { seed: [1] }); // re-run by another grid
  t.deepEqual(
    compareExperiment(dir).arms.map((a) => a.name),
    ['seed-1', 'seed-2', 'seed-10'],
  );
});

test('a step logged twice (a resumed run) keeps its last value', (t) => {
  const dir = tmpProject({});
  const w1 = new TensorBoardWriter(dir, { flushEverySeconds: 0 });
  for (const k of [1, 2, 3]) w1.scalar('env/reward_mean', k, k);
  w1.close();
  const w2 = new TensorBoardWriter(dir, { flushEverySeconds: 0 });
  for (const k of [3, 4]) w2.scalar('env/reward_mean', 10 * k, k);
  w2.close();
  t.deepEqual(
    readCurves(dir)
      .get('env/reward_mean')!
      .map((p) => [p.step, p.value]),
    [
      [1, 1],
      [2, 2],
      [3, 30],
      [4, 40],
    ],
  );
  t.is(readCurves(tmpProject({})).size, 0);
});

/** Panels of the plot with their axes, and each series' points mapped back to data coordinates. */
function readPlot(svg: string) {
  const panels = [
    ...svg.matchAll(
      /<g class="panel" data-tag="([^"]+)" data-x-domain="([^"]+)" data-y-domain="([^"]+)" data-area="([^"]+)">([\s\S]*?)<\/g>/g,
    ),
  ];
  return panels.map(([, tag, xd, yd, area, body]) => {
    const [x0, x1] = xd!.split(' ').map(Number) as [number, number];
    const [y0, y1] = yd!.split(' ').map(Number) as [number, number];
    const [left, top, w, h] = area!.split(' ').map(Number) as [number, number, number, number];
    const toData = (px: number, py: number): [number, number] => [
      x0 + ((px - left) / w) * (x1 - x0),
      y0 + ((top + h - py) / h) * (y1 - y0),
    ];
    const curves = new Map(
      [...body!.matchAll(/<polyline class="curve" data-series="([^"]+)"[^>]* points="([^"]+)"/g)].map(([, name, pts]) => [
        name!,
        pts!.split(' ').map((p) => toData(...(p.split(',').map(Number) as [number, number]))),
      ]),
    );
    const markers = [
      ...body!.matchAll(
        /<circle class="marker ([a-z-]+)" data-series="([^"]+)" cx="([^"]+)" cy="([^"]+)" r="4" fill="([^"]+)" stroke="([^"]+)"/g,
      ),
    ].map(([, kind, name, cx, cy, fill, stroke]) => ({ kind, name, at: toData(Number(cx), Number(cy)), filled: fill === stroke }));
    return { tag, x: [x0, x1], y: [y0, y1], curves, markers };
  });
}

test('the plot draws reward, KL and toxicity per arm, coloured by setting, with eval before/after marks', (t) => {
  const r = compareExperiment(gridFolder());
  const svg = comparePlot(r);
  t.true(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  const panels = readPlot(svg);
  t.deepEqual(
    panels.map((p) => p.tag),
    ['env/reward_mean', 'objective/kl', 'env/toxicity_mean'],
  );
  for (const p of panels) {
    t.deepEqual(p.x, [0, 12]);
    t.deepEqual(
      [...p.curves.keys()],
      r.arms.map((a) => a.name),
    );
  }
  // Every drawn point maps back onto its curve value (pixel coordinates are rounded to 0.01).
  const reward = panels[0]!;
  t.deepEqual(reward.y, [0, 12.5]);
  for (const arm of r.records) {
    const want = arm.curves.get('env/reward_mean')!.map((p) => [p.step, p.value]);
    const got = reward.curves.get(arm.name)!;
    t.is(got.length, STEPS);
    got.forEach(([x, y], i) => {
      close(t, x, want[i]![0]!, 1e-3);
      close(t, y, want[i]![1]!, 1e-3);
    });
  }
  const tox = panels[2]!;
  t.is(tox.markers.length, 8);
  const before = tox.markers.filter((m) => m.kind === 'eval-before');
  t.true(before.every((m) => !m.filled && Math.abs(m.at[0]) < 1e-3 && Math.abs(m.at[1] - 0.25) < 1e-4));
  const after = tox.markers.find((m) => m.kind === 'eval-after' && m.name === 'transform-a_seed-1')!;
  t.true(after.filled);
  close(t, after.at[0], 12, 1e-3);
  close(t, after.at[1], 0.25, 1e-4);
  // Seeds of a setting share a colour; the legend names the settings.
  const colour = (name: string) => new RegExp(`data-series="${name}" fill="none" stroke="(#[0-9a-f]{6})"`).exec(svg)![1];
  t.is(colour('transform-a_seed-0'), colour('transform-a_seed-1'));
  t.not(colour('transform-a_seed-0'), colour('transform-b_seed-0'));
  t.regex(svg, /<title>transform-a \(2 seeds\)<\/title>transform-a \(2 seeds\)<\/text>/);
  t.is((svg.match(/<g[ >]/g) ?? []).length, (svg.match(/<\/g>/g) ?? []).length);
});

test('plot text is escaped', (t) => {
  const dir = path.join(tmpProject({}), 'runs', 'z');
  writeArm(dir, { name: 'R&D <1>', transform: 'c', seed: 3, rewardAt: (k) => k, klAt: () => 0, toxBefore: 0.5, toxAfter: 0.5 });
  const svg = comparePlot(compareExperiment(dir));
  t.regex(svg, /data-series="R&amp;D &lt;1&gt;"/);
  t.false(/&(?!amp;|lt;|gt;|quot;|apos;)/.test(svg));
});
