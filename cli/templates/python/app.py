"""{{name}}: an airlock action. It reads ``{"name": ...}`` and answers with a
greeting; the greeting word is configuration the operator sets."""

from airlock_sdk import ActionError, action, config, log


def greet(word: str, name: str) -> dict:
    """The action's logic, apart from the host so that a plain test runs it."""
    if not name.strip():
        raise ActionError("name is empty")
    return {"greeting": f"{word}, {name}!"}


def run(input):
    name = input.get("name") if isinstance(input, dict) else None
    if not isinstance(name, str):
        raise ActionError('the input is {"name": "..."}')
    log.info(f"greeting {name}")
    return greet(config.get("greeting"), name)


WitWorld = action(run)
