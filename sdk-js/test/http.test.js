// The HTTP helpers' pure parts.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { HttpError } from '../src/index.js';
import { checkUrl, encodeJson } from '../src/http.js';

test('http and https URLs with placeholders outside the path pass', () => {
  for (const url of [
    'http://notify.test/v1/messages',
    'https://api.example.com:8443/x?token={{secret:TOKEN}}',
    'http://notify.test',
    'http://notify.test?k={{secret:KEY}}',
  ]) {
    checkUrl(url);
  }
});

test('other URLs, and a placeholder in the path, are refused', () => {
  for (const url of [
    'notify.test/x',
    'ftp://example.com/',
    'file:///etc/passwd',
    'http://notify.test/hooks/{{secret:HOOK}}',
    'http://notify.test/hooks/%7B%7Bsecret:HOOK%7D%7D',
  ]) {
    assert.throws(() => checkUrl(url), (e) => e instanceof HttpError && e.kind === 'request', url);
  }
});

test('JSON bodies', () => {
  assert.equal(encodeJson({ text: 'é', n: 1 }), '{"text":"é","n":1}');
  assert.equal(encodeJson(null), 'null');
  for (const value of [10n, () => 1, undefined]) {
    assert.throws(() => encodeJson(value), (e) => e instanceof HttpError && e.kind === 'request');
  }
});
