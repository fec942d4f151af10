// Under plain node every host call throws NotInAirlock, and nothing else breaks.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { AirlockError, NotInAirlock, config, http, inAirlock, log, secrets } from '../src/index.js';

const hostCalls = {
  'log.trace': () => log.trace('x'),
  'log.debug': () => log.debug('x'),
  'log.info': () => log.info('x'),
  'log.warn': () => log.warn('x'),
  'log.error': () => log.error('x'),
  'secrets.get': () => secrets.get('TOKEN'),
  'config.get': () => config.get('channel'),
  'config.getInt': () => config.getInt('retries'),
  'config.getBool': () => config.getBool('dry_run'),
  'http.getJson': () => http.getJson('https://api.example.com/'),
  'http.postJson': () => http.postJson('https://api.example.com/', { a: 1 }),
  'http.requestJson': () => http.requestJson('DELETE', 'https://api.example.com/x'),
};

function isNotInAirlock(what) {
  return (e) =>
    e instanceof NotInAirlock &&
    e instanceof AirlockError &&
    e.message.startsWith(`${what} works only inside an airlock run`);
}

test('the SDK loads under node and knows it is not in a component', () => {
  assert.equal(inAirlock(), false);
});

test('a host call throws NotInAirlock', async () => {
  for (const [what, call] of Object.entries(hostCalls)) {
    // The http helpers are async: they reject rather than throw.
    await assert.rejects(async () => call(), isNotInAirlock(what), what);
  }
});

test('the http helpers do not fall back to node\'s own fetch', async () => {
  const real = globalThis.fetch;
  let called = false;
  globalThis.fetch = async () => {
    called = true;
    return new Response('{}');
  };
  try {
    await assert.rejects(http.getJson('http://127.0.0.1:1/'), NotInAirlock);
  } finally {
    globalThis.fetch = real;
  }
  assert.equal(called, false);
});
