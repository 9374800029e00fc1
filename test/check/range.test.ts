import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { alerts, parseRange, ThresholdRangeError } from '../../src/check/range.ts';

const INF = Number.POSITIVE_INFINITY;

describe('Nagios threshold ranges', () => {
  // The table of the monitoring-plugins development guidelines, plus decimals and negatives.
  const parsed: [string, number, number, boolean][] = [
    ['10', 0, 10, false],
    ['0', 0, 0, false],
    ['10:', 10, INF, false],
    ['~:10', Number.NEGATIVE_INFINITY, 10, false],
    ['10:20', 10, 20, false],
    ['@10:20', 10, 20, true],
    ['@5', 0, 5, true],
    [':5', 0, 5, false],
    ['-5:5', -5, 5, false],
    ['1.5:2.5', 1.5, 2.5, false],
    [' 3 ', 0, 3, false],
  ];
  for (const [text, start, end, inside] of parsed) {
    it(`parses "${text}"`, () => {
      assert.deepEqual(parseRange(text), { start, end, inside, text: text.trim() });
    });
  }

  // [range, value, alerts?]
  const cases: [string, number, boolean][] = [
    ['10', -1, true],
    ['10', 0, false],
    ['10', 10, false],
    ['10', 11, true],
    ['0', 0, false],
    ['0', 1, true],
    ['10:', 9, true],
    ['10:', 10, false],
    ['10:', 1e9, false],
    ['~:10', -1e9, false],
    ['~:10', 10, false],
    ['~:10', 11, true],
    ['10:20', 9, true],
    ['10:20', 10, false],
    ['10:20', 20, false],
    ['10:20', 21, true],
    ['@10:20', 9, false],
    ['@10:20', 10, true],
    ['@10:20', 20, true],
    ['@10:20', 21, false],
    ['@0', 0, true],
    ['@0', 1, false],
  ];
  for (const [text, value, expected] of cases) {
    it(`"${text}" ${expected ? 'alerts' : 'does not alert'} on ${value}`, () => {
      assert.equal(alerts(parseRange(text), value), expected);
    });
  }

  const bad: [string, RegExp][] = [
    ['', /empty range/],
    ['@', /nothing after "@"/],
    ['abc', /"abc" is not a number/],
    ['20:10', /start 20 is greater than end 10/],
    ['-1', /start 0 is greater than end -1/],
    ['1:2:3', /more than one ":"/],
    ['~', /"~" is not a number/],
    ['5:x', /end "x" is not a number/],
    ['1e3', /is not a number/],
  ];
  for (const [text, message] of bad) {
    it(`rejects "${text}"`, () => {
      assert.throws(
        () => parseRange(text),
        (e: unknown) => {
          assert.ok(e instanceof ThresholdRangeError);
          assert.match(e.message, message);
          return true;
        },
      );
    });
  }
});
