/** Console progress for long work: a redrawn line on a terminal, a line every few seconds otherwise. */
export class Progress {
  private readonly start = Date.now();
  private lastPrint = 0;
  private readonly tty: boolean;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly out: NodeJS.WriteStream = process.stderr,
    private readonly opts: { enabled?: boolean; everyMs?: number; startAt?: number } = {},
  ) {
    this.tty = Boolean(out.isTTY);
  }

  /** `done` items of `total` are finished; `fields` are shown after the bar (name → value). */
  update(done: number, fields: Record<string, string | number> = {}): void {
    if (this.opts.enabled === false) return;
    const now = Date.now();
    const last = done >= this.total;
    if (!this.tty && !last && now - this.lastPrint < (this.opts.everyMs ?? 5000)) return;
    this.lastPrint = now;
    const line = this.render(done, fields, now);
    if (this.tty) this.out.write(`\r\x1b[2K${line}${last ? '\n' : ''}`);
    else this.out.write(`${line}\n`);
  }

  /** Ends the line (on a terminal) so that following output starts clean. */
  end(): void {
    if (this.tty && this.opts.enabled !== false) this.out.write('\n');
  }

  render(done: number, fields: Record<string, string | number>, now = Date.now()): string {
    const frac = this.total > 0 ? Math.min(1, done / this.total) : 1;
    const width = 20;
    const filled = Math.round(frac * width);
    const bar = `${'='.repeat(Math.max(0, filled - 1))}${filled > 0 ? (frac < 1 ? '>' : '=') : ''}${' '.repeat(width - filled)}`;
    const elapsed = (now - this.start) / 1000;
    const doneHere = done - (this.opts.startAt ?? 0);
    const rate = doneHere > 0 ? elapsed / doneHere : NaN;
    const eta = Number.isFinite(rate) ? formatDuration(rate * (this.total - done)) : '?';
    const extra = Object.entries(fields)
      .map(([k, v]) => `${k} ${typeof v === 'number' ? formatNumber(v) : v}`)
      .join('  ');
    return `${this.label} ${done}/${this.total} [${bar}] ${Math.round(frac * 100)}%  ${extra}  ${formatDuration(elapsed)} elapsed, ETA ${eta}`;
  }
}

function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
  return v.toFixed(a >= 100 ? 1 : a >= 10 ? 2 : 3);
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
