/**
 * TRL v0.11.4's `LengthSampler(min_value, max_value)` (`trl/core.py`): `values = list(range(min, max))`,
 * so **max is exclusive**, and each call returns a uniform choice among them (`np.random.choice`).
 * `LengthSampler(20, 30)` gives 20..29. PPOTrainer.generate draws one value per generation batch and uses
 * it as `max_new_tokens`; the detoxification example also samples query lengths with it.
 */

/** The one method of the project's RNG that sampling needs (see core/util/rng.ts). */
interface IntSource {
  /** A uniform integer in [0, n). */
  int(n: number): number;
}

/** Uniform integer lengths in [min, max) — max exclusive, as in TRL. */
export class LengthSampler {
  private readonly all: readonly number[];

  constructor(
    readonly min: number,
    readonly max: number,
  ) {
    if (!Number.isInteger(min) || !Number.isInteger(max)) {
      throw new RangeError(`LengthSampler: min and max must be integers; got min=${min}, max=${max}`);
    }
    if (max <= min) {
      throw new RangeError(
        `LengthSampler: max (${max}) must be greater than min (${min}); max is exclusive, so range(${min}, ${max}) would be empty`,
      );
    }
    this.all = Array.from({ length: max - min }, (_, i) => min + i);
  }

  /** Every value that can be sampled: min, min+1, …, max−1. */
  values(): number[] {
    return [...this.all];
  }

  /** One uniform draw from {@link values}. */
  sample(rng: IntSource): number {
    return this.all[rng.int(this.all.length)];
  }
}
