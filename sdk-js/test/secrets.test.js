// Placeholders and secret errors.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Secret, SecretError } from '../src/index.js';

test('a valid name gives its placeholder', () => {
  for (const name of ['NOTIFY_TOKEN', 'A', 'GH_TOKEN_2', '_', 'X'.repeat(128)]) {
    assert.equal(Secret.placeholder(name), `{{secret:${name}}}`);
  }
});

test('any other name is refused before a request carries it', () => {
  for (const name of ['', 'lower', 'Mixed', 'WITH-DASH', 'WITH SPACE', 'A}}B', 'X'.repeat(129), 'TOKEN\n', undefined, 7]) {
    assert.throws(() => Secret.placeholder(name), { name: 'TypeError', message: /is not a secret name/ });
  }
});

test('a secret error says what to do and keeps the reason', () => {
  const cases = [
    ['not-declared', undefined, 'add it to [capabilities] secrets in action.toml'],
    ['not-exposed', undefined, 'send it as {{secret:API_KEY}} or declare it with expose = true'],
    ['not-granted', undefined, "has no source in the operator's policy"],
    ['unavailable', 'vault is down', 'is unavailable: vault is down'],
  ];
  for (const [reason, detail, says] of cases) {
    const error = new SecretError('API_KEY', reason, detail);
    assert.ok(error.message.includes(says), error.message);
    assert.equal(error.secret, 'API_KEY');
    assert.equal(error.reason, reason);
    assert.equal(error.name, 'SecretError');
  }
});
