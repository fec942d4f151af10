// Secrets the action declared and the operator provides.
//
// The way to use a secret is not to read it: put `Secret.placeholder(NAME)`
// into an HTTP request (a header, the URL's query, the body) and the host
// fills in the value on the request that leaves, only when it goes to an
// origin in the secret's `send_to`. A secret the action must compute with
// is declared `expose = true` and read with `secrets.get`.

import { AirlockError } from './errors.js';
import { host } from './host.js';

const NAME = /^[A-Z0-9_]{1,128}$/;

/**
 * Why `secrets.get` returned no value. It never contains the value.
 * `name` is the secret asked for; `reason` the host's, as the WIT case
 * name: `not-declared`, `not-exposed`, `not-granted` or `unavailable`.
 */
export class SecretError extends AirlockError {
  constructor(name, reason, detail) {
    super(explain(name, reason, detail));
    this.secret = name;
    this.reason = reason;
  }
}

function explain(name, reason, detail) {
  switch (reason) {
    case 'not-declared':
      return `secret \`${name}\` is not declared: add it to [capabilities] secrets in action.toml`;
    case 'not-exposed':
      return `secret \`${name}\` is not exposed: send it as {{secret:${name}}} or declare it with expose = true`;
    case 'not-granted':
      return `secret \`${name}\` has no source in the operator's policy`;
    default:
      return `secret \`${name}\` is unavailable: ${detail ?? 'the host gave no reason'}`;
  }
}

/** A declared secret, used without being read. */
export const Secret = Object.freeze({
  /**
   * The placeholder `{{secret:NAME}}` for the secret `name`, declared in
   * `action.toml`: 1 to 128 of `A-Z`, `0-9` and `_`. Any other name throws
   * a `TypeError` here, instead of leaving in a request as text the host
   * does not fill in.
   * @param {string} name
   * @returns {string}
   */
  placeholder(name) {
    if (typeof name !== 'string' || !NAME.test(name)) {
      throw new TypeError(
        `${JSON.stringify(name)} is not a secret name: use 1 to 128 of A-Z, 0-9 and _, like "SLACK_WEBHOOK"`,
      );
    }
    return `{{secret:${name}}}`;
  },
});

/**
 * The plaintext of the secret `name`, declared with `expose = true` and
 * provided by the operator; otherwise throws `SecretError`. Every read is
 * an audit record (the name, never the value). Do not log, print or return
 * the value.
 * @param {string} name
 * @returns {string}
 */
export function get(name) {
  const wit = host('secrets', 'secrets.get');
  try {
    return wit.get(name);
  } catch (e) {
    const payload = e?.payload;
    if (payload === undefined) {
      throw e;
    }
    throw new SecretError(name, payload.tag, payload.val);
  }
}
