// Write airlock actions in JavaScript. See README.md for the tutorial.
//
// Everything here loads under plain `node`; calls that need the host throw
// `NotInAirlock` there. The component's entry imports `./component.js` as
// well, which binds the host.

export { action, dispatch } from './entry.js';
export { ActionError, AirlockError, NotInAirlock } from './errors.js';
export { ConfigError } from './config.js';
export { HttpError } from './http.js';
export { Secret, SecretError } from './secrets.js';
export { inAirlock } from './host.js';

export * as config from './config.js';
export * as http from './http.js';
export * as log from './log.js';
export * as secrets from './secrets.js';
