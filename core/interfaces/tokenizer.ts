/** Text ⇄ token ids. Implemented by core/model/io/tokenizer.ts (Hugging Face tokenizer.json). */
export interface Tokenizer {
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  /** The tokenizer's own pad token, else the EOS token (the TRL / Hugging Face convention `pad = eos`). */
  readonly padTokenId: number | null;
  /** Text → ids; `addSpecialTokens: false` leaves out the post-processor's tokens (OPT's leading `</s>`). */
  encode(text: string, opts?: { addSpecialTokens?: boolean }): number[];
  decode(ids: ArrayLike<number>, opts?: { skipSpecialTokens?: boolean }): string;
}
