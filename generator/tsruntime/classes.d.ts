/** ReplyError is a refusal by the server: a reply whose successful is false. */
export declare class ReplyError extends Error {
  /** The channel of the refused operation. */
  readonly channel: string;
  /** The server's reply: its error says why, as code:args:message. */
  readonly reply: Message;

  constructor(channel: string, reply: Message);
}

/** ValidationError is a message that does not match its channel's schema. */
export declare class ValidationError extends Error {
  /** The channel of the message. */
  readonly channel: string;
  /** Each way the message breaks its schema, as "/path: problem". */
  readonly violations: readonly string[];

  constructor(channel: string, what: string, violations: readonly string[]);
}

/** HandlerError is an error thrown by a subscription or state listener. */
export declare class HandlerError extends Error {
  /** The channel whose message the listener was handling. */
  readonly channel: string;

  constructor(channel: string, cause: unknown);
}

/**
 * ResumeError says that the server could not replay everything the client
 * missed while it reconnected (the resume extension): messages were lost.
 */
export declare class ResumeError extends Error {
  /** The channel whose reply told of the gap: /meta/connect. */
  readonly channel: string;
  /** The position of the last message received before the gap. */
  readonly position: number;

  constructor(position: number);
}

/**
 * ContractError says that the server's contract changed in a way that
 * breaks this client, where the default of onContractChanged cannot reload
 * a page.
 */
export declare class ContractError extends Error {
  /** The channel whose reply told of the change: /meta/handshake. */
  readonly channel: string;
  /** What changed. */
  readonly change: ContractChange;

  constructor(change: ContractChange);
}
