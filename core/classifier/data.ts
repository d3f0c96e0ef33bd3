// THROWAWAY SHIM of the lead's core/classifier/data.ts (same API); deleted before merging main.
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { parse } from 'csv-parse/sync';

export interface LabelledText { text: string; label: 0 | 1; source: string; group?: string }

export function loadToxicityLabels(dir: string): LabelledText[] {
  const out: LabelledText[] = [];
  const rows = parse(fs.readFileSync(path.join(dir, 'davidson-labeled_data.csv'), 'utf8'), { columns: true }) as Record<string, string>[];
  for (const r of rows) out.push({ text: r.tweet!, label: r.class === '2' ? 0 : 1, source: 'davidson' });
  const tg = path.join(dir, 'toxigen-prompts');
  for (const f of fs.readdirSync(tg).sort()) {
    const m = /^(hate|neutral)_(.+)_1k\.txt$/.exec(f);
    if (!m) continue;
    for (const line of fs.readFileSync(path.join(tg, f), 'utf8').split('\n')) {
      for (let p of line.split('\\n')) {
        p = p.trim();
        if (p.startsWith('- ')) p = p.slice(2);
        p = p.trim();
        if (p) out.push({ text: p, label: m[1] === 'hate' ? 1 : 0, source: 'toxigen', group: m[2] });
      }
    }
  }
  return dedupeTexts(out);
}

export function loadLabelledCsv(file: string, o: { textColumn: string; labelColumn: string; source?: string }): LabelledText[] {
  const rows = parse(fs.readFileSync(file, 'utf8'), { columns: true }) as Record<string, string>[];
  return rows.map((r) => {
    const l = String(r[o.labelColumn]).trim().toLowerCase();
    const label = (['1', 'toxic', 'true', 'hate'].includes(l) ? 1 : 0) as 0 | 1;
    return { text: r[o.textColumn]!, label, source: o.source ?? path.basename(file, '.csv') };
  });
}

export function dedupeTexts(items: LabelledText[]): LabelledText[] {
  const seen = new Set<string>();
  return items.filter((x) => (seen.has(x.text) ? false : (seen.add(x.text), true)));
}

export function splitByHash(items: LabelledText[], validationFraction: number): { train: LabelledText[]; validation: LabelledText[] } {
  const train: LabelledText[] = [];
  const validation: LabelledText[] = [];
  for (const x of items) {
    const h = createHash('sha256').update(x.text).digest().readUInt32BE(0) / 2 ** 32;
    (h < validationFraction ? validation : train).push(x);
  }
  return { train, validation };
}
