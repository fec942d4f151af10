// Configuration values in the host's text form, parsed by type.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { parseBoolean, parseInteger } from '../src/config.js';

test('integers in decimal', () => {
  const cases = [['0', 0], ['42', 42], ['-7', -7], ['007', 7], ['9007199254740991', Number.MAX_SAFE_INTEGER]];
  for (const [text, value] of cases) assert.equal(parseInteger(text), value);
});

test('anything else is not an integer', () => {
  for (const text of ['', '+1', ' 1', '1 ', '1_000', '0x10', '1.0', '1e3', '--1', 'Infinity']) {
    assert.throws(() => parseInteger(text), { message: 'not an integer' }, text);
  }
  // A 64-bit value JavaScript would round is refused, not rounded.
  assert.throws(() => parseInteger('9223372036854775807'), { message: /holds exactly/ });
});

test('booleans are true or false', () => {
  assert.equal(parseBoolean('true'), true);
  assert.equal(parseBoolean('false'), false);
  for (const text of ['', 'True', 'FALSE', '1', '0', 'yes', 'true ']) {
    assert.throws(() => parseBoolean(text), { message: 'not true or false' }, text);
  }
});
