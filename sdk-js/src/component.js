// The component's side of the SDK: import it from the entry module you give
// componentize-js, never from code that must load under plain `node`.
//
//     import '@airlock/sdk/component';
//     export { run } from './action.js';
//
// componentize-js resolves these specifiers to the world's imports; they
// exist nowhere else, which is why the rest of the SDK does not import them.

import * as config from 'airlock:action/config@0.1.0';
import * as log from 'airlock:action/log@0.1.0';
import * as secrets from 'airlock:action/secrets@0.1.0';
import { bind } from './host.js';

bind({ config, log, secrets });
