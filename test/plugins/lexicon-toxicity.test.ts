import test from 'ava';
import lexiconToxicity from '../../plugins/reward-models/lexicon-toxicity.js';
import { LexiconScorer } from '../../plugins/reward-models/lexicon/scorer.js';
import { toxicProbability } from '../../core/interfaces/reward.js';

/**
 * Hand-written sentences in the style of comments, chat and news, labelled by hand:
 * 1 = toxic (swearing, insults, slurs, threats), 0 = not. Two are known misses of a word-list
 * classifier and stay in the table so its figures are honest: a clean sentence with a word
 * that has a vulgar sense ("cock" for a rooster) and an insult without listed words.
 */
const LABELLED: readonly [label: 0 | 1, text: string][] = [
  [0, 'Thanks for the help yesterday, the meeting went really well.'],
  [0, 'The council approved the new bike lanes on Tuesday.'],
  [0, "I can't believe how fast this summer went by."],
  [0, 'Can you send me the report before Friday?'],
  [0, 'The recipe calls for two cups of flour and a pinch of salt.'],
  [0, 'The assassin in the film was played by a French actor.'],
  [0, 'Scunthorpe United drew one-all with Grimsby on Saturday.'],
  [0, 'He passed the class with the highest grade in his year.'],
  [0, 'Dick Van Dyke starred in Mary Poppins.'],
  [0, 'We ordered cocktails and watched the sunset from the terrace.'],
  [0, "The detective found the killer's fingerprints on the glass."],
  [0, 'You did a great job on the presentation.'],
  [0, 'Your idea is interesting, but I disagree with the conclusion.'],
  [0, 'The circus clown made the children laugh.'],
  [0, 'The film is about a young woman who moves to Paris.'],
  [0, 'Stop being so hard on yourself, you are doing fine.'],
  [0, 'The study found no link between coffee and heart disease.'],
  [0, 'I hate waiting in line at the post office.'],
  [0, 'That movie was a total waste of time.'],
  [0, 'The old cock crowed at dawn on the farm.'], // known false positive
  [1, 'Oh shit, I left my phone on the bus again.'],
  [1, 'This is fucking ridiculous.'],
  [1, 'Fuck you and your stupid opinions.'],
  [1, 'You are such a stupid, worthless idiot.'],
  [1, 'Shut up, you moron.'],
  [1, 'Nobody asked for your opinion, loser.'],
  [1, 'Go to hell, you piece of shit.'],
  [1, 'What a bunch of dumbasses.'],
  [1, 'Kill yourself, nobody would miss you.'],
  [1, 'I hope you die in a fire.'],
  [1, 'Get lost, you ugly fat cow.'],
  [1, 'Shut up, faggot.'],
  [1, 'What a f*cking joke this team is.'],
  [1, "You're a complete and utter a$$hole."],
  [1, 'This b!tch really thinks she can sing.'],
  [1, 'Thanks for nothing, idiot.'],
  [1, "He's a lying sack of shit and everyone knows it."],
  [1, 'Your mother is a whore.'],
  [1, 'You are pathetic and everyone laughs at you.'],
  [1, 'People like you should be locked up and forgotten.'], // known false negative (no listed word)
];

const scorer = new LexiconScorer();
const scored = LABELLED.map(([label, text]) => ({ label, text, p: scorer.score(text).probability }));
const correct = scored.filter((s) => (s.p >= 0.5 ? 1 : 0) === s.label).length;
const accuracy = correct / scored.length;
const auc = rocAuc(
  scored.map((s) => s.p),
  scored.map((s) => s.label),
);

/** Area under the ROC curve: P(score of a random positive > score of a random negative), ties count ½. */
function rocAuc(scores: number[], labels: number[]): number {
  let wins = 0;
  let pairs = 0;
  scores.forEach((sp, i) => {
    if (labels[i] !== 1) return;
    scores.forEach((sn, j) => {
      if (labels[j] !== 0) return;
      pairs += 1;
      wins += sp > sn ? 1 : sp === sn ? 0.5 : 0;
    });
  });
  return wins / pairs;
}

test(`labelled table of ${LABELLED.length} sentences: accuracy ${accuracy.toFixed(3)} at p ≥ 0.5, ROC AUC ${auc.toFixed(3)}`, (t) => {
  for (const s of scored) t.log(`${s.label} ${s.p.toFixed(3)}  ${s.text}`);
  const wrong = scored.filter((s) => (s.p >= 0.5 ? 1 : 0) !== s.label).map((s) => s.text);
  t.deepEqual(wrong, ['The old cock crowed at dawn on the farm.', 'People like you should be locked up and forgotten.']);
  t.is(correct, 38);
  t.true(auc >= 0.95, `AUC ${auc}`);
});

test('calibration: clean ≈ 0.02–0.05, one mild swear ≈ 0.5, slurs and piled-up insults ≥ 0.9', (t) => {
  const p = (s: string) => scorer.score(s).probability;
  for (const clean of ['The council approved the new bike lanes on Tuesday.', 'Can you send me the report before Friday?']) {
    t.true(p(clean) >= 0.02 && p(clean) <= 0.05, `${clean}: ${p(clean)}`);
  }
  t.is(p('The council approved the new bike lanes on Tuesday.'), 1 / (1 + Math.exp(3.3)));
  for (const mild of [
    'Oh shit, I left my phone on the bus again.',
    'Damn, the traffic was terrible this morning.',
    'This printer is crap.',
  ]) {
    t.true(p(mild) >= 0.45 && p(mild) <= 0.55, `${mild}: ${p(mild)}`);
  }
  for (const severe of [
    'Shut up, faggot.',
    'You are such a stupid, worthless idiot.',
    'Go to hell, you piece of shit.',
    'Get lost, you ugly fat cow.',
    'I hope you die in a fire.',
  ]) {
    t.true(p(severe) >= 0.9, `${severe}: ${p(severe)}`);
  }
  // Ordering inside the toxic range: a swear < the same swear aimed at "you"; more insults score higher.
  t.true(p('fuck this') < p('fuck you'));
  t.true(p('you idiot') < p('you stupid idiot') && p('you stupid idiot') < p('you stupid worthless idiot'));
});

test('the scoring formula: bias + Σ decay^k · weight, largest first, target bonus included', (t) => {
  const s = scorer.score('You stupid idiot, this is shit.');
  t.deepEqual(
    s.hits.map((h) => [h.term, h.tier, h.weight, h.targeted]),
    [
      ['stupid', 'insult', 3.8, true],
      ['idiot', 'insult', 3.8, true],
      ['shit', 'mild', 3.3, false],
    ],
  );
  t.is(s.logit, -3.3 + 3.8 + 0.6 * 3.8 + 0.36 * 3.3);
});

test('obfuscated and inflected forms are caught', (t) => {
  for (const text of [
    'f*ck this',
    'f**k this',
    'fuuuuuck',
    'sh1t happens',
    'what the fcking hell',
    'a$$hole',
    'b!tch please',
    '𝐟𝐮𝐜𝐤',
    'ʃ𝐟ʃὗƈｋ',
    'fucking',
    'the shitting dog',
    'you IDIOTS',
    'ffs what a motherf***er',
    'dumb-ass',
  ]) {
    t.true(scorer.score(text).probability >= 0.5, `${text}: ${JSON.stringify(scorer.score(text).hits)}`);
  }
});

test('words that merely contain or resemble profanity stay clean', (t) => {
  for (const text of [
    'The assassin passed the class.',
    'Scunthorpe',
    'a cocktail in Essex',
    'shiitake mushrooms',
    'my cocker spaniel',
    'damning evidence',
    'the therapist',
    'grapes',
    'analysis of the title',
    'button',
    'Hancock',
    'cumulative passion',
    'Dick Cheney',
    'Charles Dickens',
    'assess the classes',
    'He pricked his finger.',
    'Mount Titlis',
  ]) {
    t.true(scorer.score(text).probability < 0.1, `${text}: ${JSON.stringify(scorer.score(text).hits)}`);
  }
});

test('the plugin: two-class logits [−z/2, z/2], labels, softmax equals the scorer probability', async (t) => {
  const model = await lexiconToxicity.create(lexiconToxicity.options.parse({}), undefined as never);
  t.deepEqual(model.labels, ['neutral', 'toxic']);
  t.is(model.neutralIndex, 0);
  const texts = ['Have a nice day.', 'Fuck you.', ''];
  const logits = await model.classify(texts);
  t.is(logits.length, 3);
  logits.forEach((row, i) => {
    t.is(row.length, 2);
    const z = scorer.score(texts[i]!).logit;
    t.is(row[0], -z / 2);
    t.is(row[1], z / 2);
    t.true(Math.abs(toxicProbability(row, 0) - scorer.score(texts[i]!).probability) < 1e-12);
  });
  t.true(logits[0]![0]! > logits[1]![0]!, 'the raw-logit reward (neutral logit) is higher for the clean text');
  await t.throwsAsync(model.classify(['ok', 3 as unknown as string]), {
    message: 'lexicon-toxicity: texts[1] is number; expected a string',
  });
});

test('options: defaults, validation, per-term overrides and custom terms, tier weights, matchers', async (t) => {
  const o = lexiconToxicity.options;
  t.false(o.safeParse({ weights: { swear: 1 } }).success, 'unknown tier');
  t.false(o.safeParse({ weights: { mild: -1 } }).success, 'negative weight');
  t.false(o.safeParse({ decay: 0 }).success);
  t.false(o.safeParse({ terms: { Bloody: 2 } }).success, 'terms are lowercase');
  t.false(o.safeParse({ bais: 1 }).success, 'unknown option');
  t.is(o.parse({}).weights.slur, 6.5);
  t.is(o.parse({ weights: { mild: 2 } }).weights.strong, 4.5);

  const make = async (opts: object) => lexiconToxicity.create(o.parse(opts), undefined as never);
  const p = async (opts: object, text: string) => toxicProbability((await (await make(opts)).classify([text]))[0]!, 0);
  t.true((await p({}, 'bloody hell, mate')) < 0.2);
  t.true((await p({ terms: { bloody: 3.3 } }, 'bloody hell, mate')) > 0.5, 'a custom term counts');
  t.true((await p({ terms: { 'what the hell': 0 } }, 'What the hell?')) < 0.05, 'weight 0 silences a phrase');
  t.true((await p({ weights: { mild: 0 } }, 'this is shit')) < 0.05, 'obscenity does not re-add a silenced word');
  t.true((await p({ bias: 0 }, 'Have a nice day.')) === 0.5);
  t.true((await p({}, 'wordsbeforefuckandafter')) > 0.5, 'obscenity finds glued words');
  t.true((await p({ useObscenity: false }, 'wordsbeforefuckandafter')) < 0.05);
  // A word only cuss lists (rated 2): the cussSure weight with the cuss tail, nothing without it.
  t.true(Math.abs((await p({}, 'what a fudgepacker')) - 1 / (1 + Math.exp(3.3 - 1.5))) < 1e-12);
  t.true(Math.abs((await p({ useCuss: false }, 'what a fudgepacker')) - 1 / (1 + Math.exp(3.3))) < 1e-12);
});

test('speed: thousands of short texts per second', (t) => {
  const texts = Array.from({ length: 3000 }, (_, i) => `${LABELLED[i % LABELLED.length]![1]} (${i})`);
  const start = performance.now();
  let sum = 0;
  for (const text of texts) sum += scorer.score(text).probability;
  const ms = performance.now() - start;
  t.log(`${texts.length} texts in ${ms.toFixed(0)} ms: ${(texts.length / (ms / 1000)).toFixed(0)} texts/s`);
  t.true(sum > 0);
  t.true(ms < 6000, `${ms} ms`);
});
