import { cuss } from 'cuss';
import { CUSS_IGNORED, DEFAULT_TERM_WEIGHTS, DEFAULT_TIER_WEIGHTS, MASK_CANDIDATES, TERM_TIERS, type Tier } from './terms.js';

/** A term's tier: one of the built-in tiers, or `custom` for a term added through options. */
export type EntryTier = Tier | 'custom';

/** A known term and what it adds to the toxic logit. */
interface LexiconEntry {
  term: string;
  tier: EntryTier;
  /** Logit contribution before the target bonus; 0 means "known to be harmless". */
  weight: number;
}

/** How a word was recognised (for explanations and tests). */
export type MatchKind = 'exact' | 'respelled' | 'inflected' | 'masked';

export interface LexiconOptions {
  /** Weight per tier (missing tiers take the defaults). */
  tierWeights?: Partial<Record<Tier, number>>;
  /** Weight per term, overriding its tier; new terms (single words or phrases) are added as `custom`. */
  termWeights?: Record<string, number>;
  /** Include cuss' long tail (words not in the project's own tiers). */
  useCuss?: boolean;
}

/** Tiers whose words may be respelled, masked or inflected (`fucking`, `sh1t`, `b*tch`). */
const PROFANE: ReadonlySet<EntryTier> = new Set(['slur', 'strong', 'mild', 'sexual', 'custom']);
/** Suffixes stripped to find a profane base form, longest first. */
const PROFANE_SUFFIXES = ['ings', 'ing', "in'", 'in', 'ers', 'er', 'ed', 'es', 's', 'y'];
/** Suffixes stripped for insults: plurals only ("fooled" is not an insult). */
const PLURAL_SUFFIXES = ['es', 's'];
/** Clean words that suffix stripping would otherwise turn into profanity. */
const NOT_INFLECTIONS: ReadonlySet<string> = new Set([
  'damning',
  'cocker',
  'cockers',
  'cocky',
  'pricked',
  'pricking',
  'pricker',
  'dicker',
  'dickered',
  'dickering',
  'hellen',
  'shitake',
  'assing',
  'analy',
  'tits',
  'cumming',
  'sexed',
  'dicky',
  'cocking',
  'cocked',
  'assess',
  'assessed',
  'assesses',
  'assessing',
  'spicy',
  'spices',
  'spicer',
  'spiced',
  'spicing',
  'spicier',
  'heller',
  'hellers',
  'shitake',
  'cunts',
  'analyst',
  'retarding',
  'retardingly',
  'retardation',
  'rapped',
  'rapper',
  'rappers',
  'hooters',
  'prickly',
]);
/** Digits and symbols read as letters (`sh1t`, `a$$hole`, `b!tch`). */
const LEET: Readonly<Record<string, string>> = { 0: 'o', 1: 'i', 3: 'e', 4: 'a', 5: 's', 7: 't', '@': 'a', $: 's', '!': 'i' };
/** Characters that stand for a hidden letter in masked words. */
const MASK_CHARS = /[*#%@$!]/u;

/**
 * The term table of the lexicon classifier: the project's tiers (terms.ts), cuss' ratings for
 * everything else (2 → `cussSure`, 1 → `cussMaybe`, minus {@link CUSS_IGNORED}), and the user's
 * term weights. Looks words up in their written form, respelled (`sh1t`, `fuuuck`), inflected
 * (`fucking`, `idiots`) and masked (`f*ck`, `b***h`).
 */
export class Lexicon {
  private readonly words = new Map<string, LexiconEntry>();
  private readonly phrases = new Map<string, LexiconEntry>();
  private readonly masks: { term: string; entry: LexiconEntry }[] = [];
  /** Longest phrase, in words. */
  readonly maxPhraseWords: number;
  readonly tierWeights: Readonly<Record<Tier, number>>;

  constructor(options: LexiconOptions = {}) {
    const tierWeights = { ...DEFAULT_TIER_WEIGHTS, ...options.tierWeights };
    this.tierWeights = tierWeights;
    const terms = { ...DEFAULT_TERM_WEIGHTS, ...options.termWeights };
    const put = (term: string, tier: EntryTier) => {
      const key = term.toLowerCase();
      const weight = terms[key] ?? (tier === 'custom' ? 0 : tierWeights[tier]);
      (key.includes(' ') ? this.phrases : this.words).set(key, { term: key, tier, weight });
    };
    if (options.useCuss ?? true) {
      for (const [term, rating] of Object.entries(cuss)) {
        if (rating === 0 || TERM_TIERS.has(term) || CUSS_IGNORED.has(term)) continue;
        put(term, rating === 2 ? 'cussSure' : 'cussMaybe');
      }
    }
    for (const [term, tier] of TERM_TIERS) put(term, tier);
    for (const term of Object.keys(options.termWeights ?? {})) {
      const key = term.toLowerCase();
      if (!this.words.has(key) && !this.phrases.has(key)) put(key, 'custom');
    }
    this.maxPhraseWords = Math.max(1, ...[...this.phrases.keys()].map((p) => p.split(' ').length));
    for (const term of MASK_CANDIDATES) {
      const entry = this.words.get(term);
      if (entry && entry.weight > 0) this.masks.push({ term, entry });
    }
  }

  /** The entry for a phrase of several normalised words joined by single spaces, if listed. */
  phrase(key: string): LexiconEntry | undefined {
    return this.phrases.get(key);
  }

  /**
   * Looks up one normalised word: as written, then respelled (digits/symbols as letters,
   * letters repeated 3+ times collapsed), then inflected, then masked.
   */
  word(norm: string): { entry: LexiconEntry; kind: MatchKind } | undefined {
    const exact = this.words.get(norm);
    if (exact) return { entry: exact, kind: 'exact' };
    if (!/\p{L}/u.test(norm)) return undefined;
    const respellings = this.respellings(norm);
    for (const r of respellings) {
      const e = this.words.get(r);
      if (e) return { entry: e, kind: 'respelled' };
    }
    for (const r of [norm, ...respellings]) {
      const e = this.inflected(r);
      if (e) return { entry: e, kind: 'inflected' };
    }
    if (MASK_CHARS.test(norm)) {
      const e = this.masked(norm);
      if (e) return { entry: e, kind: 'masked' };
    }
    return undefined;
  }

  /** Other spellings to try: leetspeak read as letters, and runs of 3+ letters collapsed to 1 or 2. */
  private respellings(norm: string): string[] {
    const out = new Set<string>();
    const base = /[a-z]/.test(norm) && /[0-9@$!]/.test(norm) ? norm.replace(/[013457@$!]/g, (c) => LEET[c]!) : norm;
    if (base !== norm) out.add(base);
    if (/(.)\1\1/u.test(base)) {
      out.add(base.replace(/(.)\1{2,}/gu, '$1'));
      out.add(base.replace(/(.)\1{2,}/gu, '$1$1'));
    }
    out.delete(norm);
    return [...out];
  }

  /** A base form reached by stripping a suffix (and a doubled final consonant: `shitting` → `shit`). */
  private inflected(word: string): LexiconEntry | undefined {
    if (NOT_INFLECTIONS.has(word)) return undefined;
    for (const suffix of PROFANE_SUFFIXES) {
      if (!word.endsWith(suffix)) continue;
      const stem = word.slice(0, -suffix.length);
      for (const s of /(.)\1$/u.test(stem) ? [stem, stem.slice(0, -1)] : [stem]) {
        if (s.length < 4) continue;
        const e = this.words.get(s);
        if (!e) continue;
        if (PROFANE.has(e.tier)) return e;
        if ((e.tier === 'insult' || e.tier === 'epithet') && PLURAL_SUFFIXES.includes(suffix)) return e;
      }
    }
    return undefined;
  }

  /**
   * The first {@link MASK_CANDIDATES} word of the masked word's shape: letters must match, and
   * each run of n mask characters stands for n or n + 1 letters (`f*k`, `f**k`, `sh*t`, `f***ing`).
   */
  private masked(norm: string): LexiconEntry | undefined {
    const letters = norm.replace(/[^a-z]/g, '').length;
    if (letters === 0) return undefined;
    const source = norm.replace(/[*#%@$!]+|[^*#%@$!]+/gu, (part) =>
      MASK_CHARS.test(part) ? `[a-z]{${part.length},${part.length + 1}}` : part.replace(/[^a-z0-9']/g, ''),
    );
    const re = new RegExp(`^${source}$`, 'u');
    return this.masks.find((m) => re.test(m.term))?.entry;
  }
}
