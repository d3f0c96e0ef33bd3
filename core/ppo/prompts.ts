import type { PromptRecord } from '../interfaces/dataset.js';
import type { Tokenizer } from '../interfaces/tokenizer.js';
import { LengthSampler } from './length-sampler.js';
import { Rng } from '../util/rng.js';
import { InputError } from '../errors.js';

/** A training prompt, tokenised and cut to its sampled length. */
export interface Query {
  id: string;
  ids: number[];
  text: string;
}

/**
 * Tokenises prompts and cuts each to a length drawn once per prompt from `promptTokens`
 * (TRL's LengthSampler, max excluded; the study samples it at dataset-map time). Prompts that
 * would not fit the model's context with the longest response are an error naming them.
 */
export function prepareQueries(opts: {
  prompts: readonly PromptRecord[];
  tokenizer: Tokenizer;
  promptTokens: [number, number] | null;
  maxResponseTokens: number;
  contextLength: number;
  seed: number;
}): Query[] {
  const sampler = opts.promptTokens ? new LengthSampler(opts.promptTokens[0], opts.promptTokens[1]) : null;
  const rng = new Rng(opts.seed).fork('prompt-lengths');
  const out: Query[] = [];
  const room = opts.contextLength - opts.maxResponseTokens;
  for (const p of opts.prompts) {
    let ids = opts.tokenizer.encode(p.text);
    if (sampler) ids = ids.slice(0, sampler.sample(rng));
    if (ids.length === 0) continue;
    if (ids.length > room) {
      throw new InputError(
        `prompt ${p.id} has ${ids.length} tokens, but the model's context (${opts.contextLength}) leaves room for ${room} ` +
          `besides up to ${opts.maxResponseTokens} response tokens (generation.responseTokens); cut prompts with data.promptTokens`,
      );
    }
    out.push({ id: p.id, ids, text: opts.tokenizer.decode(ids) });
  }
  return out;
}

/** Where the prompt stream is, for checkpoints. */
export interface QueueState {
  epoch: number;
  index: number;
}

/**
 * Batches of training prompts in a fresh seeded order each epoch, dropping the last partial batch
 * (TRL's DataLoader with shuffle=True, drop_last=True), endlessly. Its state is two integers, so
 * a resumed run sees exactly the batches an uninterrupted one would.
 */
export class QueryQueue {
  private order: number[] = [];
  private state: QueueState = { epoch: 0, index: 0 };

  constructor(
    private readonly queries: readonly Query[],
    private readonly batchSize: number,
    private readonly seed: number,
  ) {
    if (queries.length < batchSize) {
      throw new InputError(`only ${queries.length} training prompts for ppo.batchSize = ${batchSize}: lower the batch size or add prompts`);
    }
    this.setState(this.state);
  }

  next(): Query[] {
    if (this.state.index + this.batchSize > this.order.length) this.setState({ epoch: this.state.epoch + 1, index: 0 });
    const batch = this.order.slice(this.state.index, this.state.index + this.batchSize).map((i) => this.queries[i]!);
    this.state = { ...this.state, index: this.state.index + this.batchSize };
    return batch;
  }

  getState(): QueueState {
    return { ...this.state };
  }

  setState(s: QueueState): void {
    this.order = new Rng(this.seed).fork(`epoch-${s.epoch}`).permutation(this.queries.length);
    this.state = { ...s };
  }
}
