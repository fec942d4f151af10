// The component's entry, for componentize-js: bind the SDK to the host and
// export the action's `run`.
import '../sdk/component.js';
export { run } from './action.js';
