// Log lines for the operator, recorded in the run's audit log.
//
// The host cuts long lines and redacts the values of the action's secrets
// it knows before it stores anything; still, never log a secret. What the
// action prints with `console` is captured and recorded too, but these
// calls keep their level.

import { host } from './host.js';

function emit(level, message) {
  host('log', `log.${level}`).emit(level, String(message));
}

/** Log `message` at `trace` level. @param {string} message */
export const trace = (message) => emit('trace', message);
/** Log `message` at `debug` level. @param {string} message */
export const debug = (message) => emit('debug', message);
/** Log `message` at `info` level. @param {string} message */
export const info = (message) => emit('info', message);
/** Log `message` at `warn` level. @param {string} message */
export const warn = (message) => emit('warn', message);
/** Log `message` at `error` level. @param {string} message */
export const error = (message) => emit('error', message);
