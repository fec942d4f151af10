// The entry point: a function becomes the component's `run` export.
//
// The world exports `run: func(input: string) -> result<string, string>`:
// JSON text in, JSON text or an error message out.

import { ActionError } from './errors.js';

/**
 * Decode `input` as JSON, call `fn` with it (awaiting a promise) and encode
 * its result.
 *
 * Every failure is an `ActionError` whose message is the text the operator
 * sees: input that is not JSON (`fn` is not called), an `ActionError` `fn`
 * throws (its message as it is), any other error (`Name: message`), and a
 * result JSON cannot encode. A result of `undefined` is `null`.
 *
 * @param {(input: any) => any} fn
 * @param {string} input
 * @returns {Promise<string>}
 */
export async function dispatch(fn, input) {
  let value;
  try {
    value = JSON.parse(input);
  } catch (e) {
    throw new ActionError(`invalid input: ${e.message}`);
  }
  let output;
  try {
    output = await fn(value);
  } catch (e) {
    if (e instanceof ActionError) {
      throw e;
    }
    throw new ActionError(describe(e));
  }
  let text;
  try {
    text = JSON.stringify(output === undefined ? null : output);
  } catch (e) {
    throw new ActionError(`cannot encode output: ${e.message}`);
  }
  if (text === undefined) {
    throw new ActionError(`cannot encode output: a ${typeof output} is not JSON`);
  }
  return text;
}

/**
 * Make `fn` the component's `run` export:
 *
 *     export const run = action(async (input) => ({ ok: true }));
 *
 * `fn` takes the decoded JSON input and returns (or resolves to) any value
 * `JSON.stringify` encodes. `run` never throws: it resolves to the WIT
 * result, `{ tag: 'ok', val: json }` or `{ tag: 'err', val: message }`,
 * which componentize-js returns as it is and a test can check.
 *
 * @param {(input: any) => any} fn
 * @returns {(input: string) => Promise<{ tag: 'ok' | 'err', val: string }>}
 */
export function action(fn) {
  if (typeof fn !== 'function') {
    throw new TypeError(`action() takes the action's function, not ${typeof fn}`);
  }
  return async function run(input) {
    try {
      return { tag: 'ok', val: await dispatch(fn, input) };
    } catch (e) {
      return { tag: 'err', val: e instanceof ActionError ? e.message : describe(e) };
    }
  };
}

function describe(e) {
  if (e instanceof Error) {
    return e.message ? `${e.name}: ${e.message}` : e.name;
  }
  return `thrown: ${String(e)}`;
}
