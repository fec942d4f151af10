// The one door to the host. `component.js`, the component's entry, binds
// the world's imports here; until it has, as under plain `node`, every host
// call throws `NotInAirlock`.

import { NotInAirlock } from './errors.js';

let bound = null;

/**
 * Bind the world's imported interfaces. Called once, by `component.js`.
 * @param {{ config: object, log: object, secrets: object }} interfaces
 */
export function bind(interfaces) {
  if (bound !== null) {
    throw new Error('the airlock host is already bound');
  }
  bound = Object.freeze({ ...interfaces });
}

/** Whether the code runs inside an airlock component. */
export function inAirlock() {
  return bound !== null;
}

/**
 * The imported interface `name`.
 * @param {'config' | 'log' | 'secrets'} name
 * @param {string} what the SDK call, for the `NotInAirlock` message
 */
export function host(name, what) {
  if (bound === null) {
    throw new NotInAirlock(what);
  }
  return bound[name];
}
