"""notify-py: post a message to a notification API without holding its token.

Input: ``{"url": "https://notify.test/v1/messages", "text": "deployed"}``.
Output: ``{"status": 200, "response": <the API's JSON, or its text>}``.

The request carries ``Authorization: Bearer {{secret:NOTIFY_TOKEN}}``; the
host fills the token in only because ``https://notify.test`` is in the
secret's ``send_to``, and refuses the request for any other origin.
"""

from airlock_sdk import ActionError, Secret, action, config, http, log


def run(input):
    if not isinstance(input, dict):
        raise ActionError('the input is {"url": "...", "text": "..."}')
    url, text = input.get("url"), input.get("text")
    if not isinstance(url, str) or not isinstance(text, str):
        raise ActionError("input.url and input.text must be strings")

    channel = config.get("channel")
    log.info(f"posting {len(text)} characters to #{channel}")
    response = http.post(
        url,
        json={"channel": channel, "text": text},
        headers={"authorization": f"Bearer {Secret.placeholder('NOTIFY_TOKEN')}"},
    )
    log.info(f"the API answered {response.status}")
    response.raise_for_status()
    if response.headers.get("content-type", "").startswith("application/json"):
        return {"status": response.status, "response": response.json()}
    return {"status": response.status, "response": response.text}


WitWorld = action(run)
