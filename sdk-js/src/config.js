// Configuration that is not secret: the keys declared under `[config]`.
//
// The manifest declares each key with its type and, optionally, a default:
//
//     [config.channel]
//     type = "string"
//     default = "general"
//
// The operator sets values under `[actions.NAME.config]` in the policy; the
// host gives that value or the manifest's default, and records every value
// of a run in its audit log. Read a key with the getter of its declared
// type. A key the manifest does not declare throws `ConfigError`.

import { AirlockError } from './errors.js';
import { host } from './host.js';

const INTEGER = /^-?[0-9]+$/;

/** A key that is not declared, or a value not of the type asked for. */
export class ConfigError extends AirlockError {
  constructor(key, message) {
    super(message);
    this.key = key;
  }
}

/**
 * The value of the declared key `name` as text; `fallback` when neither
 * the policy nor the manifest gives one.
 * @param {string} name
 * @param {string} [fallback]
 * @returns {string | undefined}
 */
export function get(name, fallback) {
  return lookup(name, 'config.get') ?? fallback;
}

function lookup(name, what) {
  const wit = host('config', what);
  let value;
  try {
    value = wit.get(name);
  } catch (e) {
    if (e?.payload === undefined) {
      throw e;
    }
    // `not-declared` is the interface's one error.
    throw new ConfigError(name, `config \`${name}\` is not declared: add [config.${name}] to action.toml`);
  }
  return value ?? undefined;
}

/**
 * The value of the declared `integer` key `name`. Throws `ConfigError`
 * when it is not a decimal integer JavaScript holds exactly.
 * @param {string} name
 * @param {number} [fallback]
 * @returns {number | undefined}
 */
export function getInt(name, fallback) {
  return typed(name, lookup(name, 'config.getInt'), parseInteger, fallback);
}

/**
 * The value of the declared `boolean` key `name`. Throws `ConfigError`
 * when it is not `true` or `false`.
 * @param {string} name
 * @param {boolean} [fallback]
 * @returns {boolean | undefined}
 */
export function getBool(name, fallback) {
  return typed(name, lookup(name, 'config.getBool'), parseBoolean, fallback);
}

/**
 * An integer in the host's text form: decimal digits, an optional `-`.
 * Throws a `RangeError` for anything else, and for a value beyond
 * `Number.MAX_SAFE_INTEGER`.
 * @param {string} text
 */
export function parseInteger(text) {
  if (!INTEGER.test(text)) {
    throw new RangeError('not an integer');
  }
  const value = Number(text);
  if (!Number.isSafeInteger(value)) {
    throw new RangeError('not an integer JavaScript holds exactly');
  }
  return value;
}

/**
 * A boolean in the host's text form: `true` or `false`. Throws a
 * `RangeError` for anything else.
 * @param {string} text
 */
export function parseBoolean(text) {
  if (text === 'true') return true;
  if (text === 'false') return false;
  throw new RangeError('not true or false');
}

function typed(name, text, parse, fallback) {
  if (text === undefined) {
    return fallback;
  }
  try {
    return parse(text);
  } catch (e) {
    throw new ConfigError(name, `config \`${name}\` is ${JSON.stringify(text)}: ${e.message}`);
  }
}
