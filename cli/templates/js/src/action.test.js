// Plain tests of the logic: `node --test src/`. Outside airlock the host
// calls throw NotInAirlock instead of crashing.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ActionError, NotInAirlock, config } from '../sdk/index.js';
import { greet } from './action.js';

test('greets by name and refuses an empty one', () => {
  assert.deepEqual(greet('Hello', 'Ada'), { greeting: 'Hello, Ada!' });
  assert.throws(() => greet('Hello', ' '), ActionError);
});

test('outside airlock, host calls throw', () => {
  assert.throws(() => config.get('greeting'), NotInAirlock);
});
