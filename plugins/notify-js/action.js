// notify-js: post a message to a notification API without holding its token.
//
// Input: {"url": "https://notify.test/v1/messages", "text": "deployed"}.
// Output: {"status": 200, "response": <the API's JSON>}.
//
// The request carries `Authorization: Bearer {{secret:NOTIFY_TOKEN}}`; the
// host fills the token in only because https://notify.test is in the
// secret's `send_to`, and refuses the request for any other origin.
//
// This module loads under plain `node` (its logic can be tested there);
// component.js is the component's entry.

import { ActionError, Secret, action, config, http, log } from '../../sdk-js/src/index.js';

export const run = action(async (input) => {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ActionError('the input is {"url": "...", "text": "..."}');
  }
  const { url, text } = input;
  if (typeof url !== 'string' || typeof text !== 'string') {
    throw new ActionError('input.url and input.text must be strings');
  }

  const channel = config.get('channel');
  log.info(`posting ${text.length} characters to #${channel}`);
  const response = await http.postJson(
    url,
    { channel, text },
    { headers: { authorization: `Bearer ${Secret.placeholder('NOTIFY_TOKEN')}` } },
  );
  log.info(`the API answered ${response.status}`);
  return { status: response.status, response: response.body };
});
