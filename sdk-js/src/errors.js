// The SDK's errors. Every one of them is an `AirlockError`.

/** The base of every error this SDK throws. */
export class AirlockError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * A host call (secrets, config, log, the `http` helpers) made outside an
 * airlock run. The host's interfaces exist only inside the component an
 * airlock host runs; under plain `node` (an author's tests) every host call
 * throws this instead, and code that does not call the host runs as usual.
 */
export class NotInAirlock extends AirlockError {
  /** @param {string} what the SDK call that needs the host */
  constructor(what) {
    super(
      `${what} works only inside an airlock run: build the action with ` +
        'componentize-js and run it with `airlock run` (in tests, call the ' +
        'pure parts of the action, or replace the host call with a fake)',
    );
  }
}

/**
 * Throw this to fail the action with a message for the operator: the
 * message becomes the `err` value of the component's `run` export, as it
 * is. Any other error fails the action too, as `Name: message`.
 */
export class ActionError extends AirlockError {}
