// detox-lab serve: the page. Plain ES module, no build step. Model text and run data are untrusted: everything is
// put into the DOM with createElement / textContent (never innerHTML).

const $ = (sel) => document.querySelector(sel);
const SVG = 'http://www.w3.org/2000/svg';

/** An element with attributes and children (strings become text nodes). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v);
  }
  for (const c of children.flat())
    if (c !== null && c !== undefined) el.append(typeof c === 'string' || typeof c === 'number' ? String(c) : c);
  return el;
}
function s(tag, attrs = {}, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}
const fmt = (x, d = 4) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(d) : '—');

async function api(url, body) {
  const res = await fetch(
    url,
    body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
  );
  const type = res.headers.get('content-type') || '';
  const data = type.includes('json') ? await res.json() : await res.text();
  if (!res.ok) throw new Error((data && data.error) || `${res.status} ${res.statusText}`);
  return data;
}

let info;
const ticketOf = () => `p${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;

// ---------- tabs ----------
function showTab() {
  const tab = location.hash.slice(1).split('/')[0] || 'compare';
  for (const v of ['compare', 'batch', 'runs']) {
    $(`#view-${v}`).hidden = v !== tab;
    $(`#tab-${v}`).classList.toggle('active', v === tab);
  }
  if (tab === 'runs') loadRuns();
}
window.addEventListener('hashchange', showTab);

// ---------- compare ----------
function sampling() {
  const out = {};
  for (const k of ['temperature', 'topK', 'topP', 'maxNewTokens', 'seed']) {
    const v = $(`#${k}`).value.trim();
    if (v !== '') out[k] = Number(v);
  }
  return out;
}

/** The continuation with the explained terms as <mark> elements (text nodes only). */
function highlighted(text, hits) {
  const frag = document.createDocumentFragment();
  let at = 0;
  for (const hit of [...hits].sort((a, b) => a.start - b.start)) {
    if (hit.start < at) continue;
    frag.append(document.createTextNode(text.slice(at, hit.start)));
    frag.append(h('mark', { title: `${hit.term} (${hit.tier})`, class: `tier-${hit.tier}` }, text.slice(hit.start, hit.end)));
    at = hit.end;
  }
  frag.append(document.createTextNode(text.slice(at)));
  return frag;
}

function buildColumns() {
  const cols = $('#columns');
  cols.replaceChildren(
    ...info.models.map((m) =>
      h(
        'article',
        { class: 'model-col', 'data-model': m.name },
        h('h2', {}, m.name, ' ', h('span', { class: 'muted source' }, m.source)),
        h('div', { class: 'status muted' }, 'idle'),
        h('div', { class: 'output' }),
        h('div', { class: 'scores' }),
      ),
    ),
  );
}

async function generateOne(model, body) {
  const col = document.querySelector(`.model-col[data-model="${CSS.escape(model)}"]`);
  const status = col.querySelector('.status');
  const ticket = ticketOf();
  col.classList.add('busy');
  col.querySelector('.output').replaceChildren();
  col.querySelector('.scores').replaceChildren();
  status.textContent = 'queued…';
  let done = false;
  const poll = async () => {
    while (!done) {
      try {
        const q = await api(`/api/queue?ticket=${encodeURIComponent(ticket)}`);
        const p = q.models[model]?.position;
        if (!done && typeof p === 'number') status.textContent = p > 0 ? `queued: ${p} ahead` : p === 0 ? 'generating…' : 'finishing…';
      } catch {
        /* the answer will tell */
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  poll();
  try {
    const r = await api('/api/generate', { ...body, model, ticket });
    done = true;
    status.textContent = `${r.tokens} tokens in ${r.genMs} ms${r.waitMs > 5 ? ` (waited ${r.waitMs} ms)` : ''}`;
    const hits = r.lexicon ? r.lexicon.hits : [];
    col
      .querySelector('.output')
      .replaceChildren(
        h('span', { class: 'prompt-text' }, r.prompt),
        h('span', { class: 'continuation' }, highlighted(r.continuation, hits)),
      );
    const tox = r.toxicity;
    col
      .querySelector('.scores')
      .replaceChildren(
        ...[
          h(
            'div',
            { class: `score ${tox >= 0.5 ? 'toxic' : 'clean'}` },
            h('span', { class: 'label' }, `P(toxic) · ${info.classifier.name}`),
            ' ',
            h('strong', { class: 'toxicity' }, fmt(tox, 3)),
          ),
          r.lexicon && r.explainedBy === 'lexicon'
            ? h(
                'div',
                { class: 'score lexicon' },
                h('span', { class: 'label' }, 'lexicon cross-check'),
                ' ',
                h('strong', {}, fmt(r.lexicon.probability, 3)),
              )
            : null,
          hits.length
            ? h(
                'div',
                { class: 'terms' },
                `terms (${r.explainedBy === 'classifier' ? 'as the classifier scored them' : 'from the lexicon'}): `,
                ...hits.map((x) => h('code', { class: `tier-${x.tier}` }, `${x.term} · ${x.tier}`)),
              )
            : h('div', { class: 'terms muted' }, 'no listed term'),
          r.promptTruncated ? h('div', { class: 'muted' }, 'the prompt was cut to fit the context') : null,
        ].filter(Boolean),
      );
  } catch (err) {
    done = true;
    status.textContent = 'failed';
    col.querySelector('.output').replaceChildren(h('div', { class: 'error' }, err.message));
  } finally {
    col.classList.remove('busy');
  }
}

async function onGenerate(ev) {
  ev.preventDefault();
  $('#compare-error').textContent = '';
  const prompt = $('#prompt').value;
  if (!prompt.trim()) {
    $('#compare-error').textContent = 'type or pick a prompt first';
    return;
  }
  $('#generate').disabled = true;
  try {
    await Promise.all(info.models.map((m) => generateOne(m.name, { prompt, ...sampling() })));
  } finally {
    $('#generate').disabled = false;
  }
}

// ---------- batch ----------
let csvUrl;
async function onBatch(ev) {
  ev.preventDefault();
  const body = { prompts: Number($('#batch-n').value), ...sampling(), ticket: ticketOf() };
  $('#batch-error').textContent = '';
  $('#batch-status').textContent = `continuing ${body.prompts} prompts with ${info.models.length} models…`;
  $('#batch-run').disabled = true;
  try {
    const r = await api('/api/batch', body);
    const csv = await api('/api/batch', { ...body, format: 'csv' });
    $('#batch-table tbody').replaceChildren(
      ...r.rows.map(({ model, result: x }) =>
        h(
          'tr',
          {},
          h('td', {}, model),
          h('td', { class: 'num' }, `${fmt(x.toxicity.mean)} ± ${fmt(x.toxicity.std)}`),
          h('td', { class: 'num' }, x.toxicity.n),
          h('td', { class: 'num' }, fmt(x.distinct1)),
          h('td', { class: 'num' }, fmt(x.distinct2)),
          h('td', { class: 'num' }, fmt(x.distinct3)),
          h('td', { class: 'num' }, fmt(x.perplexity, 2)),
        ),
      ),
    );
    $('#batch-table').hidden = false;
    const names = r.rows.map((x) => x.model);
    $('#batch-samples thead').replaceChildren(h('tr', {}, h('th', {}, 'prompt'), ...names.map((n) => h('th', {}, n))));
    const first = r.samples[names[0]] || [];
    $('#batch-samples tbody').replaceChildren(
      ...first.map((smp, i) =>
        h(
          'tr',
          {},
          h('td', { class: 'prompt-text' }, smp.prompt),
          ...names.map((n) => {
            const x = r.samples[n][i];
            return h('td', {}, x.continuation, ' ', h('span', { class: 'muted' }, `(${fmt(x.toxicity, 3)})`));
          }),
        ),
      ),
    );
    $('#batch-samples').hidden = false;
    if (csvUrl) URL.revokeObjectURL(csvUrl);
    csvUrl = URL.createObjectURL(new Blob([csv], { type: 'text/csv' }));
    $('#batch-csv').href = csvUrl;
    $('#batch-csv').hidden = false;
    $('#batch-status').textContent =
      `seed ${r.settings.seed}, ${r.settings.maxNewTokens} new tokens, top-k ${r.settings.topK}, batch size ${r.settings.batchSize}`;
  } catch (err) {
    $('#batch-status').textContent = '';
    $('#batch-error').textContent = err.message;
  } finally {
    $('#batch-run').disabled = false;
  }
}

// ---------- runs ----------
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];
let runsLoaded = false;
let view;
const page = { offset: 0, limit: 20, total: 0 };

async function loadRuns() {
  if (runsLoaded) return;
  runsLoaded = true;
  try {
    const r = await api('/api/runs');
    $('#runs-root').textContent = r.root ? `from ${r.root}` : 'no runs folder (start with --run or --runs-dir)';
    const sel = $('#experiment');
    sel.replaceChildren(
      ...r.experiments.map((e) =>
        h('option', { value: e.experiment }, `${e.experiment} (${e.arms.length} arm${e.arms.length > 1 ? 's' : ''})`),
      ),
    );
    const wanted = decodeURIComponent(location.hash.split('/')[1] || '') || r.open?.experiment;
    if (wanted && r.experiments.some((e) => e.experiment === wanted)) sel.value = wanted;
    if (sel.value) await loadExperiment(sel.value, r.open && r.open.experiment === sel.value ? r.open.arm : undefined);
    else $('#runs-error').textContent = 'no experiment folders with runs found';
  } catch (err) {
    $('#runs-error').textContent = err.message;
  }
}

async function loadExperiment(name, arm) {
  $('#runs-error').textContent = '';
  try {
    view = await api(`/api/runs/${encodeURIComponent(name)}`);
  } catch (err) {
    $('#runs-error').textContent = err.message;
    return;
  }
  const color = new Map(view.arms.map((a, i) => [a.name, COLORS[i % COLORS.length]]));
  $('#legend').replaceChildren(
    ...view.arms.map((a) => h('span', { class: 'key' }, h('i', { style: `background:${color.get(a.name)}` }), `${a.name} (${a.status})`)),
  );
  $('#charts').replaceChildren(...view.curves.map((c) => chart(c, view.arms, color)));
  compareTable(view);
  const armSel = $('#sample-arm');
  armSel.replaceChildren(...view.arms.map((a) => h('option', { value: a.name }, a.name)));
  if (arm && view.arms.some((a) => a.name === arm)) armSel.value = arm;
  page.offset = 0;
  await loadSamples(true);
}

/** One panel: every arm's series; evaluation series (two points, step 0 and the last step) as points. */
function chart(curve, arms, color) {
  const W = 440,
    H = 230,
    L = 52,
    R = 12,
    T = 26,
    B = 30;
  const isEval = curve.tag.startsWith('eval/');
  const series = arms.map((a) => ({ arm: a.name, pts: (a.series[curve.tag] || []).filter((p) => p[1] !== null) }));
  const evalMarks =
    curve.tag === 'env/toxicity_mean'
      ? arms.map((a) => ({ arm: a.name, pts: (a.series['eval/toxicity_mean'] || []).filter((p) => p[1] !== null) }))
      : [];
  const all = [...series, ...evalMarks].flatMap((x) => x.pts);
  const svg = s('svg', { class: 'chart', 'data-tag': curve.tag, viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img' });
  svg.append(s('text', { x: 6, y: 16, class: 'title' }, curve.title));
  if (all.length === 0) {
    svg.append(s('text', { x: L, y: H / 2, class: 'empty' }, 'no data'));
    return svg;
  }
  let x0 = Math.min(...all.map((p) => p[0])),
    x1 = Math.max(...all.map((p) => p[0]));
  let y0 = Math.min(...all.map((p) => p[1])),
    y1 = Math.max(...all.map((p) => p[1]));
  if (x1 === x0) {
    x0 -= 1;
    x1 += 1;
  }
  if (y1 === y0) {
    const d = Math.abs(y0) * 0.1 || 1;
    y0 -= d;
    y1 += d;
  }
  const pad = (y1 - y0) * 0.06;
  y0 -= pad;
  y1 += pad;
  const X = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const Y = (y) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
  svg.append(s('rect', { x: L, y: T, width: W - L - R, height: H - T - B, class: 'frame' }));
  for (const v of [y0 + pad, (y0 + y1) / 2, y1 - pad]) {
    svg.append(
      s('text', { x: L - 4, y: Y(v) + 4, class: 'tick', 'text-anchor': 'end' }, Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3)),
    );
    svg.append(s('line', { x1: L, x2: W - R, y1: Y(v), y2: Y(v), class: 'grid' }));
  }
  for (const v of [x0, x1]) svg.append(s('text', { x: X(v), y: H - 12, class: 'tick', 'text-anchor': 'middle' }, String(Math.round(v))));
  svg.append(s('text', { x: (L + W - R) / 2, y: H - 4, class: 'tick', 'text-anchor': 'middle' }, 'step'));
  const marker = (arm, p, i, n, extra) => {
    const after = i === n - 1 && p[0] > 0;
    const c = s('circle', {
      cx: X(p[0]),
      cy: Y(p[1]),
      r: 4.5,
      class: `point ${extra} ${after ? 'eval-after' : 'eval-before'}`,
      fill: after ? color.get(arm) : 'white',
      stroke: color.get(arm),
      'stroke-width': 2,
      'data-arm': arm,
    });
    c.append(s('title', {}, `${arm} ${after ? 'after' : 'before'} training (step ${p[0]}): ${p[1]}`));
    return c;
  };
  for (const { arm, pts } of series) {
    if (isEval || pts.length === 1) {
      if (pts.length > 1)
        svg.append(
          s('path', { d: pts.map((p, i) => `${i ? 'L' : 'M'}${X(p[0])},${Y(p[1])}`).join(''), class: 'eval-link', stroke: color.get(arm) }),
        );
      pts.forEach((p, i) => svg.append(marker(arm, p, i, pts.length, 'eval-point')));
    } else if (pts.length) {
      const path = s('path', {
        d: pts.map((p, i) => `${i ? 'L' : 'M'}${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join(''),
        class: 'curve',
        stroke: color.get(arm),
        'data-arm': arm,
      });
      path.append(s('title', {}, `${arm}: ${pts.length} steps, last ${pts[pts.length - 1][1]}`));
      svg.append(path);
    }
  }
  for (const { arm, pts } of evalMarks) pts.forEach((p, i) => svg.append(marker(arm, p, i, pts.length, 'eval-point')));
  return svg;
}

let sortState = { key: null, dir: 1 };
function compareTable(v) {
  const cols = [
    { key: 'label', title: 'arm' },
    ...(v.grouped ? [{ key: 'n', title: 'n (seeds)' }] : []),
    { key: 'status', title: 'status' },
    { key: 'steps', title: 'steps' },
    ...v.columns,
  ];
  $('#compare-table thead').replaceChildren(
    h(
      'tr',
      {},
      ...cols.map((c) =>
        h(
          'th',
          {
            'data-key': c.key,
            class: sortState.key === c.key ? (sortState.dir > 0 ? 'sorted asc' : 'sorted desc') : null,
            onclick: () => {
              sortState = { key: c.key, dir: sortState.key === c.key ? -sortState.dir : 1 };
              compareTable(v);
            },
          },
          c.title,
        ),
      ),
    ),
  );
  $('#compare-note').textContent =
    (v.grouped
      ? 'Rows with n > 1 are the seeds of one setting: mean ± 95% CI of the mean across seeds; single arms show toxicity as mean ± std over the continuations. '
      : 'Toxicity: mean ± population std over the continuations. ') + `Last-K: the last ${v.lastK} steps. Click a column to sort.`;
  const value = (row, key) => (key in row.cells ? row.cells[key].value : row[key]);
  const rows = [...v.rows];
  if (sortState.key) {
    rows.sort((a, b) => {
      const x = value(a, sortState.key),
        y = value(b, sortState.key);
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      return (
        (typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y), 'en', { numeric: true })) *
        sortState.dir
      );
    });
  }
  $('#compare-table tbody').replaceChildren(
    ...rows.map((row) =>
      h(
        'tr',
        {},
        ...cols.map((c) =>
          h('td', { class: c.key in row.cells ? 'num' : null }, c.key in row.cells ? row.cells[c.key].text : String(row[c.key])),
        ),
      ),
    ),
  );
}

async function loadSamples(resetSteps) {
  const arm = $('#sample-arm').value;
  if (!view || !arm) return;
  const q = new URLSearchParams({ offset: String(page.offset), limit: String(page.limit) });
  const step = $('#sample-step').value;
  if (step !== '' && !resetSteps) q.set('step', step);
  for (const [id, key] of [
    ['#min-reward', 'minReward'],
    ['#max-reward', 'maxReward'],
    ['#contains', 'contains'],
  ]) {
    const v = $(id).value.trim();
    if (v !== '') q.set(key, v);
  }
  $('#samples-error').textContent = '';
  try {
    const r = await api(`/api/runs/${encodeURIComponent(view.experiment)}/${encodeURIComponent(arm)}/samples?${q}`);
    if (resetSteps)
      $('#sample-step').replaceChildren(
        h('option', { value: '' }, 'all'),
        ...r.steps.map((st) => h('option', { value: String(st) }, String(st))),
      );
    page.total = r.total;
    $('#samples-page').textContent = r.total ? `${r.offset + 1}–${r.offset + r.rows.length} of ${r.total}` : 'no sample matches';
    $('#samples-table tbody').replaceChildren(
      ...r.rows.map((x) =>
        h(
          'tr',
          { class: 'sample-row' },
          h('td', { class: 'num' }, x.step),
          h('td', { class: 'prompt-text' }, x.prompt),
          h('td', {}, x.response),
          h('td', { class: 'num' }, fmt(x.reward, 3)),
          h('td', { class: 'num' }, fmt(x.toxicity, 3)),
        ),
      ),
    );
  } catch (err) {
    $('#samples-error').textContent = err.message;
  }
}

// ---------- start ----------
async function start() {
  info = await api('/api/info');
  $('#server-info').textContent =
    `${info.models.map((m) => m.name).join(' vs ')} · classifier ${info.classifier.name} · ${info.prompts.length} prompts (${info.promptSource})`;
  for (const [k, v] of Object.entries(info.defaults)) $(`#${k}`).value = String(v);
  $('#prompt-pick').append(...info.prompts.map((p, i) => h('option', { value: String(i) }, p.length > 90 ? `${p.slice(0, 88)}…` : p)));
  $('#prompt-pick').addEventListener('change', (e) => {
    if (e.target.value !== '') $('#prompt').value = info.prompts[Number(e.target.value)];
  });
  $('#batch-n').max = String(info.prompts.length);
  $('#batch-n').value = String(Math.min(16, info.prompts.length));
  $('#score-note').textContent =
    `P(toxic) is the reward classifier's (${info.classifier.name}) probability of the toxic class on the continuation alone, as in the evaluation.` +
    (info.lexicon
      ? ' The lexicon cross-check and the marked terms come from the offline lexicon classifier.'
      : ' Marked terms are the ones the classifier counted.');
  buildColumns();
  $('#compare-form').addEventListener('submit', onGenerate);
  $('#batch-form').addEventListener('submit', onBatch);
  $('#experiment').addEventListener('change', (e) => {
    location.hash = `runs/${encodeURIComponent(e.target.value)}`;
    loadExperiment(e.target.value);
  });
  $('#sample-arm').addEventListener('change', () => {
    page.offset = 0;
    loadSamples(true);
  });
  $('#sample-step').addEventListener('change', () => {
    page.offset = 0;
    loadSamples(false);
  });
  $('#samples-form').addEventListener('submit', (e) => {
    e.preventDefault();
    page.offset = 0;
    loadSamples(false);
  });
  $('#samples-prev').addEventListener('click', () => {
    page.offset = Math.max(0, page.offset - page.limit);
    loadSamples(false);
  });
  $('#samples-next').addEventListener('click', () => {
    if (page.offset + page.limit < page.total) {
      page.offset += page.limit;
      loadSamples(false);
    }
  });
  showTab();
  document.body.dataset.ready = 'true';
}
start().catch((err) => {
  document.body.prepend(h('p', { class: 'error' }, `could not start: ${err.message}`));
});
