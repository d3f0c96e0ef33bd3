/**
 * A dependency-free SVG line plot: panels stacked vertically over a shared x axis (steps), one polyline per series,
 * optional point markers, a colour legend. Written for `detox-lab compare` (reward, KL and toxicity curves per arm),
 * readable in any browser without TensorBoard.
 *
 * Elements carry data attributes so the picture can be checked by a program: each panel `<g class="panel">` has
 * `data-tag`, `data-x-domain="x0 x1"`, `data-y-domain="y0 y1"` and `data-area="left top width height"` (pixels);
 * each curve `<polyline class="curve" data-series="...">`; markers `<circle class="marker ..." data-series="...">`.
 */

/** A point marker on a series (e.g. an evaluation before or after training). */
interface Marker {
  x: number;
  y: number;
  filled: boolean;
  /** Extra CSS class (e.g. "eval-before"). */
  kind: string;
}

/** One line of a panel. */
export interface Series {
  name: string;
  /** Series with the same colour key share a colour (e.g. the seeds of one setting). */
  colorKey: string;
  points: [number, number][];
  markers?: Marker[];
}

/** One panel: a y axis of its own, the shared x axis. */
export interface Panel {
  id: string;
  title: string;
  series: Series[];
}

/** Matplotlib's tab10 palette; dash patterns tell colours apart beyond ten. */
const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
const DASHES = ['', '6 3', '2 2', '8 3 2 3'];

const WIDTH = 960;
const LEGEND_W = 250;
const LEFT = 70;
const RIGHT = 20;
const TOP = 44;
const PANEL_H = 210;
const PANEL_GAP = 56;

/** Escapes text for SVG content and attributes. */
export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/**
 * About `count` evenly spaced round tick values covering [min, max] (steps of 1, 2, 2.5 or 5 × 10^k; whole numbers
 * ≥ 1 with `integer`, for steps); the first and last tick are the axis domain. A zero-width range is widened by 10% of
 * its value (or ±1 at 0).
 */
export function niceTicks(min: number, max: number, count = 5, integer = false): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  if (max < min) [min, max] = [max, min];
  if (max === min) {
    const pad = Math.abs(min) * 0.1 || 1;
    min -= pad;
    max += pad;
  }
  const raw = (max - min) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => s >= raw * (1 - 1e-12))!;
  if (integer) step = step < 1 ? 1 : step === 2.5 ? 2 : step;
  const first = Math.floor(min / step + 1e-9);
  const last = Math.ceil(max / step - 1e-9);
  const ticks: number[] = [];
  for (let i = first; i <= last; i++) ticks.push(Number((i * step).toPrecision(12)));
  return ticks;
}

/** A linear map from a domain onto a pixel range. */
export const linearScale =
  (d0: number, d1: number, r0: number, r1: number) =>
  (v: number): number =>
    d1 === d0 ? (r0 + r1) / 2 : r0 + ((v - d0) / (d1 - d0)) * (r1 - r0);

const px = (v: number) => (Math.round(v * 100) / 100).toString();
const tickText = (v: number) =>
  Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(1) : String(Number(v.toPrecision(6)));

/** Renders the panels as one SVG document. `legend` lists colour keys in order, with their labels. */
export function renderSvg(title: string, panels: readonly Panel[], legend: readonly { colorKey: string; label: string }[]): string {
  const colorIndex = new Map(legend.map((l, i) => [l.colorKey, i]));
  const styleOf = (key: string) => {
    const i = colorIndex.get(key) ?? 0;
    return { color: PALETTE[i % PALETTE.length]!, dash: DASHES[Math.floor(i / PALETTE.length) % DASHES.length]! };
  };
  const xs = panels
    .flatMap((p) => p.series.flatMap((s) => [...s.points.map(([x]) => x), ...(s.markers ?? []).map((m) => m.x)]))
    .filter(Number.isFinite);
  const xTicks = niceTicks(xs.length ? Math.min(...xs) : 0, xs.length ? Math.max(...xs) : 1, 8, true);
  const plotW = WIDTH - LEFT - RIGHT - LEGEND_W;
  const height = TOP + panels.length * (PANEL_H + PANEL_GAP) + 10;
  const x = linearScale(xTicks[0]!, xTicks[xTicks.length - 1]!, LEFT, LEFT + plotW);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${LEFT}" y="24" font-size="16" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  panels.forEach((panel, pi) => {
    const top = TOP + pi * (PANEL_H + PANEL_GAP) + 20;
    const ys = panel.series.flatMap((s) => [...s.points.map(([, v]) => v), ...(s.markers ?? []).map((m) => m.y)]).filter(Number.isFinite);
    const yTicks = niceTicks(ys.length ? Math.min(...ys) : 0, ys.length ? Math.max(...ys) : 1, 5);
    const y0 = yTicks[0]!;
    const y1 = yTicks[yTicks.length - 1]!;
    const y = linearScale(y0, y1, top + PANEL_H, top);
    parts.push(
      `<g class="panel" data-tag="${escapeXml(panel.id)}" data-x-domain="${xTicks[0]} ${xTicks[xTicks.length - 1]}" data-y-domain="${y0} ${y1}" data-area="${LEFT} ${top} ${plotW} ${PANEL_H}">`,
    );
    parts.push(`<text x="${LEFT}" y="${top - 8}" font-size="13" font-weight="bold">${escapeXml(panel.title)}</text>`);
    parts.push(`<rect x="${LEFT}" y="${top}" width="${plotW}" height="${PANEL_H}" fill="none" stroke="#888"/>`);
    for (const t of yTicks) {
      parts.push(`<line x1="${LEFT}" x2="${LEFT + plotW}" y1="${px(y(t))}" y2="${px(y(t))}" stroke="#e5e5e5"/>`);
      parts.push(`<text x="${LEFT - 6}" y="${px(y(t) + 4)}" text-anchor="end">${tickText(t)}</text>`);
    }
    for (const t of xTicks) {
      parts.push(`<line x1="${px(x(t))}" x2="${px(x(t))}" y1="${top + PANEL_H}" y2="${top + PANEL_H + 4}" stroke="#888"/>`);
      parts.push(`<text x="${px(x(t))}" y="${top + PANEL_H + 17}" text-anchor="middle">${tickText(t)}</text>`);
    }
    if (pi === panels.length - 1) parts.push(`<text x="${LEFT + plotW / 2}" y="${top + PANEL_H + 34}" text-anchor="middle">step</text>`);
    for (const s of panel.series) {
      const { color, dash } = styleOf(s.colorKey);
      const pts = s.points.filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b));
      const name = escapeXml(s.name);
      if (pts.length > 1) {
        parts.push(
          `<polyline class="curve" data-series="${name}" fill="none" stroke="${color}" stroke-width="1.5"${dash ? ` stroke-dasharray="${dash}"` : ''} ` +
            `points="${pts.map(([a, b]) => `${px(x(a))},${px(y(b))}`).join(' ')}"><title>${name}</title></polyline>`,
        );
      } else if (pts.length === 1) {
        parts.push(
          `<circle class="curve point" data-series="${name}" cx="${px(x(pts[0]![0]))}" cy="${px(y(pts[0]![1]))}" r="2.5" fill="${color}"><title>${name}</title></circle>`,
        );
      }
      for (const m of s.markers ?? []) {
        if (!Number.isFinite(m.x) || !Number.isFinite(m.y)) continue;
        parts.push(
          `<circle class="marker ${escapeXml(m.kind)}" data-series="${name}" cx="${px(x(m.x))}" cy="${px(y(m.y))}" r="4" ` +
            `fill="${m.filled ? color : 'white'}" stroke="${color}" stroke-width="1.5"><title>${name} ${escapeXml(m.kind)}: ${tickText(m.y)}</title></circle>`,
        );
      }
    }
    parts.push('</g>');
  });
  const lx = WIDTH - LEGEND_W + 10;
  parts.push(`<g class="legend">`);
  legend.forEach((l, i) => {
    const { color, dash } = styleOf(l.colorKey);
    const ly = TOP + 20 + i * 18;
    const label = l.label.length > 34 ? `${l.label.slice(0, 33)}…` : l.label;
    parts.push(
      `<line x1="${lx}" x2="${lx + 24}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2.5"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`,
    );
    parts.push(`<text x="${lx + 30}" y="${ly + 4}"><title>${escapeXml(l.label)}</title>${escapeXml(label)}</text>`);
  });
  parts.push('</g>', '</svg>');
  return `${parts.join('\n')}\n`;
}
