/** A word of the input, with where it is and how it was written. */
export interface WordToken {
  /** As written, trimmed of surrounding quote marks and `!`/`_`. */
  raw: string;
  /** Lowercased, accents removed, curly apostrophes straightened, possessive `'s` dropped. */
  norm: string;
  /** Character offsets in the input: `[start, end)`. */
  start: number;
  end: number;
  /** Written as a capitalised word ("Dick"), not all caps. */
  capitalised: boolean;
  /** First word of the text or of a sentence. */
  sentenceStart: boolean;
  /** Joined to the next token by a single hyphen ("dumb-ass", "half-wit"). */
  hyphenNext: boolean;
}

/** Runs of letters, digits, apostrophes and the characters used to mask or respell swear words. */
const WORD_RUN = /[\p{L}\p{M}\p{N}'’*#%@$!_]+/gu;
/** Characters trimmed from both ends of a run (quotes around a word, `idiot!!!`). */
const EDGE = /^['’!_]+|['’!_]+$/gu;
const SENTENCE_END = /[.!?:;"“”(\n]/u;

/**
 * Splits text into words for lexicon lookup. Hyphens and other punctuation separate words
 * (hyphen links are remembered in `hyphenNext`); `*`, `#`, `%`, `@`, `$` and inner `!` stay
 * inside words so `f*ck`, `a$$hole` and `b!tch` remain one token.
 */
export function tokenize(text: string): WordToken[] {
  const tokens: WordToken[] = [];
  for (const m of text.matchAll(WORD_RUN)) {
    const runStart = m.index!;
    const lead = m[0].length - m[0].replace(/^['’!_]+/u, '').length;
    const raw = m[0].replace(EDGE, '');
    if (raw === '') continue;
    const start = runStart + lead;
    const end = start + raw.length;
    const prev = tokens.at(-1);
    if (prev) prev.hyphenNext = text[prev.end] === '-' && prev.end + 1 === start;
    tokens.push({
      raw,
      norm: normalizeWord(raw),
      start,
      end,
      capitalised: /^\p{Lu}[\p{Ll}\p{M}'’]+$/u.test(raw),
      sentenceStart: isSentenceStart(text, start),
      hyphenNext: false,
    });
  }
  return tokens;
}

/** Lowercase, accents stripped (NFKD minus combining marks), `’` → `'`, a possessive `'s` dropped. */
function normalizeWord(word: string): string {
  return word
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .replace(/’/gu, "'")
    .toLowerCase()
    .replace(/(?<=\p{L}{2})'s$/u, '');
}

/** True when only spaces stand between `index` and the start of the text or a sentence-ending mark. */
function isSentenceStart(text: string, index: number): boolean {
  for (let i = index - 1; i >= 0; i--) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\r') continue;
    return SENTENCE_END.test(c);
  }
  return true;
}
