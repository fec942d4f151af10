// The entry point: JSON in, a value to the action, the WIT result out.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ActionError, action, dispatch } from '../src/index.js';

function double(value) {
  if (value.n > 100) throw new ActionError(`${value.n} is too large`);
  return { double: value.n * 2 };
}

test('dispatch decodes, calls and encodes', async () => {
  assert.equal(await dispatch(double, '{"n": 21}'), '{"double":42}');
  assert.equal(await dispatch(async () => 'é', '{}'), '"é"');
  assert.equal(await dispatch(() => undefined, '{}'), 'null');
});

const failures = [
  [double, '{"n": 101}', /^101 is too large$/],
  [double, 'not json', /^invalid input: /],
  [double, '{"n": NaN}', /^invalid input: /],
  [(v) => v.missing.field, '{}', /^TypeError: /],
  [async () => { throw new RangeError('out'); }, '{}', /^RangeError: out$/],
  [() => { throw 'a string'; }, '{}', /^thrown: a string$/],
  [() => 10n, '{}', /^cannot encode output: /],
  [() => () => 1, '{}', /^cannot encode output: a function is not JSON$/],
  [() => { const o = {}; o.o = o; return o; }, '{}', /^cannot encode output: /],
];

test('every failure is an ActionError with the message the operator sees', async () => {
  for (const [fn, input, message] of failures) {
    await assert.rejects(dispatch(fn, input), (e) => e instanceof ActionError && message.test(e.message));
  }
});

test('run resolves to the WIT result and never throws', async () => {
  const run = action(double);
  assert.deepEqual(await run('{"n": 2}'), { tag: 'ok', val: '{"double":4}' });
  assert.deepEqual(await run('{"n": 101}'), { tag: 'err', val: '101 is too large' });
  for (const [fn, input, message] of failures) {
    const result = await action(fn)(input);
    assert.equal(result.tag, 'err');
    assert.match(result.val, message);
  }
});

test('action takes a function', () => {
  assert.throws(() => action('run'), TypeError);
});
