// HTTP: `fetch` works as it is; these helpers add JSON, a cap on the body
// read, and typed errors.
//
// Every request passes the host's network check: the origin must be
// declared in the manifest's `network`, the name must not resolve to a
// private address, a placeholder is filled in only for its secret's
// audience. The host follows no redirects: a 3xx is a response.
//
// componentize-js's `fetch` reports a request the host refused like any
// other failed request, without the `wasi:http` error code: both are an
// `HttpError` of kind `no-response` here, and the run's refusals and audit
// log say which it was. `fetch` also percent-encodes `{{` and `}}` in a
// URL's path, where the host then finds no placeholder: put placeholders in
// the query, a header or the body (the helpers refuse a path that has one).

import { AirlockError, NotInAirlock } from './errors.js';
import { inAirlock } from './host.js';

/** How many response body bytes a helper reads unless given `maxResponseBytes`. */
export const DEFAULT_MAX_RESPONSE = 1 << 20;

const PLACEHOLDER = '{{secret:';

/**
 * Why a helper did not give the response wanted. `kind` says what failed:
 *
 * - `request`: the request could not be made (a bad URL, a body JSON
 *   cannot encode, a placeholder in the URL's path);
 * - `no-response`: the host refused the request or the network failed;
 * - `too-large`: the body is over `maxResponseBytes`;
 * - `status`: the server answered with a status other than 2xx;
 * - `body`: the body is not JSON.
 *
 * `status` and `body` (the response's text) are set once there is a
 * response; `cause` is the error `fetch` threw, if any.
 */
export class HttpError extends AirlockError {
  constructor(kind, message, { status, body, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.kind = kind;
    this.status = status;
    this.body = body;
  }
}

/**
 * `GET url` and decode the JSON answer.
 * @param {string} url
 * @param {{ headers?: HeadersInit, maxResponseBytes?: number }} [options]
 * @returns {Promise<{ status: number, headers: Headers, body: any }>}
 */
export function getJson(url, options = {}) {
  return send('GET', url, undefined, options, 'http.getJson');
}

/**
 * `POST url` with `body` as JSON (`content-type: application/json` unless
 * `headers` sets one) and decode the JSON answer.
 * @param {string} url
 * @param {any} body
 * @param {{ headers?: HeadersInit, maxResponseBytes?: number }} [options]
 * @returns {Promise<{ status: number, headers: Headers, body: any }>}
 */
export function postJson(url, body, options = {}) {
  return send('POST', url, body, options, 'http.postJson');
}

/**
 * Send `method url` with `body` as JSON (none if `undefined`); resolve to
 * the status, the headers and the decoded body (`null` for an empty one) of
 * a 2xx answer. Header values, the URL's query and the body may hold
 * placeholders.
 * @param {string} method
 * @param {string} url
 * @param {any} body
 * @param {{ headers?: HeadersInit, maxResponseBytes?: number }} [options]
 * @returns {Promise<{ status: number, headers: Headers, body: any }>}
 */
export function requestJson(method, url, body, options = {}) {
  return send(method, url, body, options, 'http.requestJson');
}

async function send(method, url, body, options, what) {
  if (!inAirlock()) {
    throw new NotInAirlock(what);
  }
  const { headers: given, maxResponseBytes = DEFAULT_MAX_RESPONSE } = options;
  checkUrl(url);
  const headers = new Headers(given);
  const init = { method, headers };
  if (body !== undefined) {
    init.body = encodeJson(body);
    if (!headers.has('content-type')) {
      headers.set('content-type', 'application/json');
    }
  }

  let response;
  try {
    response = await fetch(url, init);
  } catch (e) {
    throw new HttpError(
      'no-response',
      `${method} ${url} got no response (${e.message.trim()}); ` +
        "if the host refused it, the run's refusals say why",
      { cause: e },
    );
  }
  const text = await readText(response, maxResponseBytes, `${method} ${url}`);
  const status = response.status;
  if (!response.ok) {
    throw new HttpError('status', `${method} ${url} answered ${status}`, { status, body: text });
  }
  if (text === '') {
    return { status, headers: response.headers, body: null };
  }
  try {
    return { status, headers: response.headers, body: JSON.parse(text) };
  } catch (e) {
    throw new HttpError('body', `the response to ${method} ${url} is not JSON: ${e.message}`, {
      status,
      body: text,
    });
  }
}

/**
 * Throw `HttpError` of kind `request` unless `url` is an `http:` or
 * `https:` URL whose path holds no placeholder.
 * @param {string} url
 */
export function checkUrl(url) {
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    throw new HttpError('request', `${JSON.stringify(url)} is not a URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new HttpError('request', `${JSON.stringify(url)} is not an http:// or https:// URL`);
  }
  const afterScheme = url.slice(url.indexOf('//') + 2);
  const pathStart = afterScheme.search(/[/?#]/);
  const path = pathStart === -1 ? '' : afterScheme.slice(pathStart).split(/[?#]/)[0];
  if (path.includes(PLACEHOLDER) || parsed.pathname.includes('%7B%7Bsecret:')) {
    throw new HttpError(
      'request',
      `${url}: fetch percent-encodes a placeholder in the URL's path, and the host ` +
        'would not fill it in: put it in the query, a header or the body',
    );
  }
}

/**
 * `value` as JSON text; `HttpError` of kind `request` if it has none.
 * @param {any} value
 */
export function encodeJson(value) {
  let text;
  try {
    text = JSON.stringify(value);
  } catch (e) {
    throw new HttpError('request', `cannot encode the JSON body: ${e.message}`);
  }
  if (text === undefined) {
    throw new HttpError('request', `cannot encode the JSON body: a ${typeof value} is not JSON`);
  }
  return text;
}

async function readText(response, limit, request) {
  const chunks = [];
  let size = 0;
  try {
    if (response.body) {
      const reader = response.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.byteLength;
        if (size > limit) {
          await reader.cancel();
          throw new HttpError(
            'too-large',
            `the response to ${request} is larger than ${limit} bytes (maxResponseBytes)`,
            { status: response.status },
          );
        }
        chunks.push(value);
      }
    }
  } catch (e) {
    if (e instanceof HttpError) throw e;
    throw new HttpError('no-response', `reading the response to ${request}: ${e.message}`, {
      status: response.status,
      cause: e,
    });
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}
