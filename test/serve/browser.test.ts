/**
 * The page in a real browser: Debian's headless Chromium driven by playwright-core (no browser download). Types a
 * hostile prompt, checks that two continuations with two scores appear as text, runs a small batch, opens the run
 * browser and checks a curve, the evaluation points and the sample rows. Screenshots go to test-artifacts/serve/.
 * Without Chromium the test is skipped with the reason printed, except under CI=true, where it fails.
 */
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { ROOT } from '../helpers/tmp.js';
import { servedProject, serveIn } from './helpers.js';

const CHROMIUM =
  process.env.CHROMIUM_PATH ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p)) ?? '/usr/bin/chromium';
const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'serve');
// The page's globals, inside page.evaluate callbacks (this project compiles without the DOM library).
declare const document: any;
declare const window: any;
const XSS = '<img src=x onerror="window.hacked=1"> you idiot';

/** Headless Chromium for a closed network, with a fresh profile. */
export async function launchChromium(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'detox-lab-chromium-'));
  try {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-quic',
      ],
      viewport: { width: 1180, height: 820 },
      timeout: 60_000,
    });
    return {
      context,
      close: async () => {
        await context.close().catch(() => undefined);
        fs.rmSync(profile, { recursive: true, force: true });
      },
    };
  } catch (err) {
    fs.rmSync(profile, { recursive: true, force: true });
    throw err;
  }
}

const available = fs.existsSync(CHROMIUM);
if (!available && process.env.CI !== 'true') {
  console.log(`serve browser test skipped: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);
}
const browserTest = available || process.env.CI === 'true' ? test : test.skip;

browserTest('the page in headless Chromium: two continuations with two scores, a batch, the run browser', async (t) => {
  t.timeout(120_000);
  if (!available) {
    t.fail(`CI=true but no Chromium at ${CHROMIUM}: .ci/run installs it with apt-get install chromium (or set CHROMIUM_PATH)`);
    return;
  }
  const t0 = Date.now();
  const lap = (what: string) => t.log(`${what}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const dir = await servedProject();
  lap('tiny run');
  const samples = path.join(dir, 'runs/tiny/main/samples.jsonl');
  fs.appendFileSync(
    samples,
    `${JSON.stringify({ step: 3, prompt: XSS, response: '<script>window.hacked=2</script>', score: 0, reward: -1.25, toxicity: 0.5 })}\n`,
  );
  for (const [arm, seconds] of [
    ['slow', 90],
    ['fast', 30],
  ] as const) {
    const to = path.join(dir, 'runs/grid', arm);
    fs.cpSync(path.join(dir, 'runs/tiny/main'), to, { recursive: true, filter: (f) => !f.includes('checkpoints') });
    const cfg = JSON.parse(fs.readFileSync(path.join(to, 'resolved-config.json'), 'utf8'));
    fs.writeFileSync(
      path.join(to, 'resolved-config.json'),
      JSON.stringify({ ...cfg, seed: 0, optimiser: { ...cfg.optimiser, learningRate: seconds * 1e-5 } }),
    );
    const summary = JSON.parse(fs.readFileSync(path.join(to, 'summary.json'), 'utf8'));
    fs.writeFileSync(path.join(to, 'summary.json'), JSON.stringify({ ...summary, elapsedMs: seconds * 1000 }));
  }
  const server = await serveIn(dir, { run: path.join(dir, 'runs/tiny/main') });
  let chrome: Awaited<ReturnType<typeof launchChromium>> | undefined;
  try {
    lap('server');
    chrome = await launchChromium();
    lap('chromium');
    const page = chrome.context.pages()[0] ?? (await chrome.context.newPage());
    page.setDefaultTimeout(30_000);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    fs.mkdirSync(ARTIFACTS, { recursive: true });

    await page.goto(server.url);
    await page.waitForSelector('body[data-ready="true"]');
    t.is(await page.locator('.model-col').count(), 2);
    await page.fill('#prompt', XSS);
    await page.fill('#maxNewTokens', '10');
    await page.click('#generate');
    await page.waitForFunction(() => document.querySelectorAll('.model-col .toxicity').length === 2);
    const cols = await page.$$eval('.model-col', (els) =>
      els.map((el) => ({
        model: el.getAttribute('data-model'),
        prompt: el.querySelector('.prompt-text')?.textContent,
        continuation: el.querySelector('.continuation')?.textContent ?? '',
        score: Number(el.querySelector('.toxicity')?.textContent),
        images: el.querySelectorAll('img').length,
      })),
    );
    t.deepEqual(
      cols.map((c) => c.model),
      ['base', 'detox'],
    );
    for (const c of cols) {
      t.is(c.prompt, XSS, 'the prompt is shown as text');
      t.is(c.images, 0, 'no element made from model text');
      t.true(c.score > 0 && c.score < 1, `score ${c.score}`);
    }
    t.is(await page.evaluate(() => window.hacked), undefined);
    await page.screenshot({ path: path.join(ARTIFACTS, 'compare.png') });

    lap('compare');
    await page.click('#tab-batch');
    await page.fill('#batch-n', '2');
    await page.click('#batch-run');
    await page.waitForSelector('#batch-csv:not([hidden])');
    t.is(await page.locator('#batch-table tbody tr').count(), 2);
    t.regex(await page.locator('#batch-table tbody tr').first().innerText(), /^base\s+\d\.\d{4} ± \d\.\d{4}\s+2\s/);

    lap('batch');
    await page.click('#tab-runs');
    await page.waitForSelector('svg.chart[data-tag="env/reward_mean"] path.curve');
    t.is(await page.locator('svg.chart[data-tag="eval/perplexity"] circle.eval-before').count(), 1);
    t.is(await page.locator('svg.chart[data-tag="eval/perplexity"] circle.eval-after').count(), 1);
    t.is(await page.locator('svg.chart[data-tag="env/toxicity_mean"] circle.eval-point').count(), 2);
    t.is(await page.locator('#compare-table tbody tr').count(), 1);
    await page.waitForSelector('#samples-table tbody tr.sample-row');
    t.regex(await page.locator('#samples-page').innerText(), /^1–13 of 13$/);
    await page.fill('#contains', 'onerror');
    await page.click('#samples-form button[type=submit]');
    await page.waitForFunction(() => document.querySelectorAll('#samples-table tbody tr').length === 1);
    const row = await page.$eval('#samples-table tbody tr', (tr) => ({
      cells: [...tr.querySelectorAll('td')].map((td) => td.textContent),
      elements: tr.querySelectorAll('img, script').length,
    }));
    t.deepEqual(row.cells, ['3', XSS, '<script>window.hacked=2</script>', '-1.250', '0.500']);
    t.is(row.elements, 0);
    t.is(await page.evaluate(() => window.hacked), undefined);
    await page.fill('#contains', '');
    await page.selectOption('#sample-step', '2');
    await page.waitForFunction(() => document.querySelector('#samples-page')?.textContent === '1–4 of 4');
    t.deepEqual(await page.$$eval('#samples-table tbody tr td:first-child', (tds) => tds.map((td) => td.textContent)), [
      '2',
      '2',
      '2',
      '2',
    ]);
    await page.screenshot({ path: path.join(ARTIFACTS, 'runs.png'), fullPage: true });

    // A grid: arms overlaid, the compare table sorted by a click.
    await page.selectOption('#experiment', 'grid');
    await page.waitForFunction(() => document.querySelectorAll('svg.chart[data-tag="env/reward_mean"] path.curve').length === 2);
    const armsOf = () => page.$$eval('#compare-table tbody tr td:first-child', (tds) => tds.map((td) => td.textContent));
    t.deepEqual(await armsOf(), ['fast', 'slow']);
    await page.click('#compare-table th[data-key="wall_s"]');
    t.deepEqual(await armsOf(), ['fast', 'slow']);
    await page.click('#compare-table th[data-key="wall_s"]');
    t.deepEqual(await armsOf(), ['slow', 'fast']);
    t.is(await page.locator('#compare-table th.sorted.desc').innerText(), 'wall time');
    lap('runs');
    t.deepEqual(errors, [], 'no script error in the page');
  } finally {
    await chrome?.close();
    await server.close();
  }
});
