import test from 'ava';
import { escapeXml, linearScale, niceTicks, renderSvg } from '../../core/compare/plot.js';

test('nice ticks cover the range with round steps', (t) => {
  t.deepEqual(niceTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  t.deepEqual(niceTicks(0.13, 0.97), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  t.deepEqual(niceTicks(-0.26, 0.09), [-0.3, -0.2, -0.1, 0, 0.1]);
  t.deepEqual(niceTicks(0, 12, 8, true), [0, 2, 4, 6, 8, 10, 12]);
  t.deepEqual(niceTicks(0, 3, 8, true), [0, 1, 2, 3]); // steps are whole numbers
  t.deepEqual(niceTicks(0, 3, 8), [0, 0.5, 1, 1.5, 2, 2.5, 3]);
  t.deepEqual(niceTicks(3, 3), [2.6, 2.8, 3, 3.2, 3.4]); // zero width: ±10%
  t.deepEqual(niceTicks(0, 0), [-1, -0.5, 0, 0.5, 1]);
  t.deepEqual(niceTicks(120, 980), [0, 200, 400, 600, 800, 1000]);
  t.deepEqual(niceTicks(NaN, 1), [0, 1]);
});

test('linear scale and XML escaping', (t) => {
  const y = linearScale(0, 10, 300, 100);
  t.is(y(0), 300);
  t.is(y(10), 100);
  t.is(y(2.5), 250);
  t.is(linearScale(1, 1, 0, 10)(1), 5);
  t.is(escapeXml(`a&b<c>"d"'e'`), 'a&amp;b&lt;c&gt;&quot;d&quot;&apos;e&apos;');
});

test('a series of one point is drawn as a dot; non-finite points are skipped', (t) => {
  const svg = renderSvg(
    't',
    [
      {
        id: 'p',
        title: 'P',
        series: [
          { name: 'one', colorKey: 'one', points: [[1, 2]] },
          {
            name: 'gap',
            colorKey: 'gap',
            points: [
              [0, 1],
              [1, NaN],
              [2, 3],
            ],
          },
        ],
      },
    ],
    [
      { colorKey: 'one', label: 'one' },
      { colorKey: 'gap', label: 'gap' },
    ],
  );
  t.regex(svg, /<circle class="curve point" data-series="one" cx="[\d.]+" cy="[\d.]+" r="2.5" fill="#1f77b4">/);
  const pts = /data-series="gap" fill="none" stroke="#ff7f0e" stroke-width="1.5" points="([^"]+)"/.exec(svg)![1]!.split(' ');
  t.is(pts.length, 2);
});
