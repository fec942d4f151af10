// {{name}}: an airlock action. It reads {"name": ...} and answers with a
// greeting; the greeting word is configuration the operator sets.
//
// This module loads under plain `node` (test.js runs its logic there);
// component.js is the component's entry.

import { ActionError, action, config, log } from '../sdk/index.js';

/** The action's logic, apart from the host so that a plain test runs it. */
export function greet(word, name) {
  if (name.trim() === '') {
    throw new ActionError('name is empty');
  }
  return { greeting: `${word}, ${name}!` };
}

export const run = action((input) => {
  if (input === null || typeof input !== 'object' || typeof input.name !== 'string') {
    throw new ActionError('the input is {"name": "..."}');
  }
  log.info(`greeting ${input.name}`);
  return greet(config.get('greeting'), input.name);
});
