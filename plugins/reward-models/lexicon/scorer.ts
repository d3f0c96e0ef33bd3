import { RegExpMatcher, englishDataset, englishRecommendedTransformers } from 'obscenity';
import { Lexicon, type EntryTier, type LexiconOptions, type MatchKind } from './lexicon.js';
import {
  ADDRESSED_PHRASES,
  BRIDGE_WORDS,
  CLEAN_WORDS,
  NAME_LIKE,
  OBSCENITY_ROOT_TIERS,
  SECOND_PERSON,
  UNAMBIGUOUS_ROOTS,
} from './terms.js';
import { tokenize, type WordToken } from './tokenize.js';

/** Parameters of the score (see {@link LexiconScorer}). */
interface ScorerOptions extends LexiconOptions {
  /** Toxic-minus-neutral logit of a text with no hit (default −3.3: p ≈ 0.036). */
  bias?: number;
  /** Added to a hit aimed at the reader ("you idiot", "fuck you"); default 1.5. */
  targetBonus?: number;
  /** The k-th largest hit (from 0) counts `decay^k` of its weight; default 0.6. */
  decay?: number;
  /** Also run obscenity's obfuscation-aware matcher (default true). */
  useObscenity?: boolean;
}

/** One recognised term in a text. */
export interface Hit {
  /** The listed term (base form) or obscenity's root word. */
  term: string;
  tier: EntryTier;
  /** What it adds to the logit, target bonus included, before diminishing returns. */
  weight: number;
  targeted: boolean;
  /** Character span in the text. */
  start: number;
  end: number;
  via: MatchKind | 'phrase' | 'obscenity';
}

/** The score of one text. */
export interface LexiconScore {
  /** Toxic-minus-neutral logit: bias + Σ_k decay^k · w_(k), hit weights sorted largest first. */
  logit: number;
  /** sigmoid(logit): the probability of the toxic class. */
  probability: number;
  hits: Hit[];
}

export const DEFAULT_BIAS = -3.3;
export const DEFAULT_TARGET_BONUS = 1.5;
export const DEFAULT_DECAY = 0.6;

/** Tiers that become more toxic when aimed at someone ("threat" always is aimed; "epithet" only counts then). */
const TARGETABLE: ReadonlySet<EntryTier> = new Set(['slur', 'strong', 'mild', 'insult', 'epithet', 'custom']);
/** Tiers for which a following "you" makes a curse aimed at the reader ("fuck you", "damn you"). */
const CURSE_TIERS: ReadonlySet<EntryTier> = new Set(['strong', 'mild', 'custom']);
/** Tiers that address the reader when used as a form of address ("Thanks for nothing, idiot."). */
const VOCATIVE_TIERS: ReadonlySet<EntryTier> = new Set(['slur', 'insult', 'epithet']);
/** How many bridge words may stand between "you" and an insult. */
const MAX_BRIDGE = 5;

/**
 * Scores texts for explicit toxicity from word lists, as a two-class logit.
 *
 * 1. Words are matched against the {@link Lexicon} (phrases first, longest first; hyphenated
 *    compounds joined), then obscenity's English matcher adds what only it recognises
 *    (obfuscated or glued-together profanity). Capitalised name-like words ("Dick Cheney") are
 *    skipped.
 * 2. A hit of a targetable tier is *aimed at the reader* when "you"/"your"/... precedes it with
 *    only bridge words or other hits between ("you are a stupid little idiot"), for curses when
 *    "you" follows ("fuck you"), and for imperative phrases ("go to hell", "fuck off"); it then
 *    gains `targetBonus`. Threats are always aimed; epithets ("clown", "pig") count only when aimed.
 * 3. `logit = bias + Σ_k decay^k · w_(k)` over hit weights sorted largest first, so one slur
 *    dominates and each further hit adds less.
 */
export class LexiconScorer {
  readonly lexicon: Lexicon;
  readonly bias: number;
  readonly targetBonus: number;
  readonly decay: number;
  private readonly matcher: RegExpMatcher | undefined;

  constructor(options: ScorerOptions = {}) {
    this.lexicon = new Lexicon(options);
    this.bias = options.bias ?? DEFAULT_BIAS;
    this.targetBonus = options.targetBonus ?? DEFAULT_TARGET_BONUS;
    this.decay = options.decay ?? DEFAULT_DECAY;
    if (!(this.decay > 0 && this.decay <= 1)) throw new Error(`lexicon scorer: decay must be in (0, 1] (got ${this.decay})`);
    this.matcher =
      (options.useObscenity ?? true) ? new RegExpMatcher({ ...englishDataset.build(), ...englishRecommendedTransformers }) : undefined;
  }

  /** The logit, probability and hits of one text. */
  score(text: string): LexiconScore {
    const hits = this.hits(text);
    const weights = hits.map((h) => h.weight).sort((a, b) => b - a);
    let logit = this.bias;
    let factor = 1;
    for (const w of weights) {
      logit += factor * w;
      factor *= this.decay;
    }
    return { logit, probability: 1 / (1 + Math.exp(-logit)), hits };
  }

  /** The recognised terms of a text, in text order, target bonus applied, weight-0 terms left out. */
  hits(text: string): Hit[] {
    const tokens = tokenize(text);
    const norms = tokens.map((t) => t.norm);
    const n = tokens.length;
    /** Token index → the hit covering it (or null when a weight-0 term claimed it). */
    const owner: (Hit | null | undefined)[] = new Array(n).fill(undefined);
    const found: { hit: Hit; first: number; last: number }[] = [];
    const claim = (first: number, last: number, term: string, tier: EntryTier, weight: number, via: Hit['via']) => {
      if (weight <= 0) {
        for (let k = first; k <= last; k++) owner[k] = null;
        return;
      }
      const hit: Hit = { term, tier, weight, targeted: false, start: tokens[first]!.start, end: tokens[last]!.end, via };
      for (let k = first; k <= last; k++) owner[k] = hit;
      found.push({ hit, first, last });
    };
    const free = (first: number, last: number) => {
      for (let k = first; k <= last; k++) if (owner[k] !== undefined) return false;
      return true;
    };

    // Phrases, longest first; two hyphen-joined words are also tried as one word ("dumb-ass").
    for (let len = Math.min(this.lexicon.maxPhraseWords, n); len >= 2; len--) {
      for (let i = 0; i + len <= n; i++) {
        if (!free(i, i + len - 1)) continue;
        const entry = this.lexicon.phrase(norms.slice(i, i + len).join(' '));
        if (entry) claim(i, i + len - 1, entry.term, entry.tier, entry.weight, 'phrase');
        else if (len === 2 && tokens[i]!.hyphenNext) {
          const joined = this.lexicon.word(norms[i]! + norms[i + 1]!);
          if (joined) claim(i, i + 1, joined.entry.term, joined.entry.tier, joined.entry.weight, joined.kind);
        }
      }
    }
    // Single words.
    for (let i = 0; i < n; i++) {
      if (owner[i] !== undefined) continue;
      if (CLEAN_WORDS.has(norms[i]!) || this.isName(tokens, i)) {
        owner[i] = null;
        continue;
      }
      const got = this.lexicon.word(norms[i]!);
      if (got) claim(i, i, got.entry.term, got.entry.tier, got.entry.weight, got.kind);
    }
    // What only obscenity's transformers see (fuuuck, f u c k, glued words, look-alike letters).
    if (this.matcher) {
      for (const match of this.matcher.getAllMatches(text, true)) {
        const { phraseMetadata } = englishDataset.getPayloadWithPhraseMetadata(match);
        const i = tokenAt(tokens, match.startIndex);
        if (i < 0 || owner[i] !== undefined) continue;
        const root = phraseMetadata?.originalWord ?? 'profanity';
        if (!plausibleMatch(tokens[i]!, root, match.startIndex, match.endIndex)) continue;
        // The project's own tier for the root when it lists it, else the root's tier here.
        const listed = this.lexicon.word(root)?.entry;
        const own = listed && (!listed.tier.startsWith('cuss') || OBSCENITY_ROOT_TIERS[root] === undefined);
        if (own) claim(i, i, root, listed.tier, listed.weight, 'obscenity');
        else {
          const tier = OBSCENITY_ROOT_TIERS[root] ?? 'cussSure';
          claim(i, i, root, tier, this.lexicon.tierWeights[tier], 'obscenity');
        }
      }
    }

    // Aimed at the reader?
    const hits: Hit[] = [];
    for (const { hit, first, last } of found.sort((a, b) => a.first - b.first)) {
      const phraseWords = norms.slice(first, last + 1);
      hit.targeted =
        hit.tier === 'threat' ||
        (TARGETABLE.has(hit.tier) &&
          (ADDRESSED_PHRASES.has(hit.term) ||
            phraseWords.some((w) => SECOND_PERSON.has(w)) ||
            this.youBefore(norms, owner, first) ||
            (CURSE_TIERS.has(hit.tier) && last + 1 < n && SECOND_PERSON.has(norms[last + 1]!)) ||
            (VOCATIVE_TIERS.has(hit.tier) && isVocative(text, tokens, first, last))));
      if (hit.tier === 'epithet' && !hit.targeted) continue;
      if (hit.targeted) hit.weight += this.targetBonus;
      hits.push(hit);
    }
    return hits;
  }

  /** "you" before token `i`, with at most {@link MAX_BRIDGE} bridge words or other hits between. */
  private youBefore(norms: string[], owner: (Hit | null | undefined)[], i: number): boolean {
    for (let j = i - 1, steps = 0; j >= 0 && steps <= MAX_BRIDGE; j--, steps++) {
      if (SECOND_PERSON.has(norms[j]!)) return true;
      if (!BRIDGE_WORDS.has(norms[j]!) && !owner[j]) return false;
    }
    return false;
  }

  /** A capitalised name-like word ("Dick") inside a sentence, or followed by another capitalised word. */
  private isName(tokens: WordToken[], i: number): boolean {
    const t = tokens[i]!;
    if (!t.capitalised || !NAME_LIKE.has(t.norm)) return false;
    return !t.sentenceStart || (tokens[i + 1]?.capitalised ?? false);
  }
}

/**
 * Tokens `first..last` stand alone as a form of address: after a comma or at the start of a
 * sentence, and followed by a comma, sentence-ending mark or the end ("Thanks, idiot.",
 * "Idiot, look at this"). Not both at a sentence start and before its end mark ("Idiots.") unless
 * a comma is involved.
 */
function isVocative(text: string, tokens: WordToken[], first: number, last: number): boolean {
  const before = prevChar(text, tokens[first]!.start);
  const after = nextChar(text, tokens[last]!.end);
  const afterComma = before === ',';
  const atStart = before === undefined || /[.!?:;"“(]/u.test(before);
  const closesClause = after === undefined || /[,.!?;"”)]/u.test(after);
  return closesClause && (afterComma || (atStart && after === ','));
}

function prevChar(text: string, index: number): string | undefined {
  for (let i = index - 1; i >= 0; i--) if (!/\s/u.test(text[i]!)) return text[i];
  return undefined;
}

function nextChar(text: string, index: number): string | undefined {
  for (let i = index; i < text.length; i++) if (!/\s/u.test(text[i]!)) return text[i];
  return undefined;
}

/**
 * Whether an obscenity match of `root` at `[start, end]` (inclusive) inside `token` is profanity
 * rather than part of a clean word or name: the token has two or more letters, and either the
 * match covers at least 3/4 of it (`fuuuck`, `fcking`), or it is respelled with digits or symbols
 * (`f0ck`), or an unambiguous root is spelled out in it (`fuckbuddies`).
 */
function plausibleMatch(token: WordToken, root: string, start: number, end: number): boolean {
  const letters = token.raw.match(/\p{L}/gu)?.length ?? 0;
  if (letters < 2) return false;
  const covered = (Math.min(end + 1, token.end) - Math.max(start, token.start)) / (token.end - token.start);
  if (covered >= 0.75) return true;
  if (/[0-9*@$!#%]/u.test(token.raw)) return true;
  return UNAMBIGUOUS_ROOTS.has(root) && token.norm.includes(root);
}

/** Index of the token containing character `index`, or −1 (binary search over sorted spans). */
function tokenAt(tokens: WordToken[], index: number): number {
  let lo = 0;
  let hi = tokens.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const t = tokens[mid]!;
    if (index < t.start) hi = mid - 1;
    else if (index >= t.end) lo = mid + 1;
    else return mid;
  }
  return -1;
}
