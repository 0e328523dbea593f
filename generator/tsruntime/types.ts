// ---------------------------------------------------------------------------
// The client runtime: the same in every client cometgen generates. It adds
// promises, types and checks to the CometD client, which does the transport,
// reconnection, backoff and extensions.

/** The state of the connection to the server, as an application shows it. */
export type ConnectionState = "connected" | "reconnecting" | "disconnected";

/** ClientOptions configure a client. */
export interface ClientOptions {
  /**
   * onError receives what the client cannot hand to the application: a
   * message or reply that does not match its schema (when the client
   * validates), an error thrown by a subscription or state listener, a
   * subscription the server refused to restore after a new handshake, and
   * a resume that could not replay everything missed (ResumeError).
   * Default: console.error.
   */
  onError?: (error: ClientError) => void;
  /** The timeout of remote calls, in milliseconds. Default: 10000. */
  callTimeout?: number;
  /**
   * onContractChanged is called when a handshake's reply says that the
   * server's contract changed in a way that breaks this client (it was
   * generated from another version of the spec): the server runs newer
   * code, and this page should load it. It is called at every such
   * handshake. Default: in a browser, location.reload(); elsewhere,
   * onError with a ContractError.
   */
  onContractChanged?: (change: ContractChange) => void;
}

/**
 * ContractChange is the server's word that its contract changed in a way
 * that breaks this client.
 */
export interface ContractChange {
  /** The channels, as this client's spec writes them, that break. */
  readonly breaking: readonly string[];
  /** The name of the server's spec. */
  readonly spec: string;
  /** The hash of the server's contract. */
  readonly hash: string;
}

/** CallOptions adjust one remote call. */
export interface CallOptions {
  /** The timeout of the call, in milliseconds. Default: the client's callTimeout. */
  timeout?: number;
}

/** A Subscription lasts until it is unsubscribed. */
export interface Subscription {
  /** The channel subscribed to. */
  readonly channel: string;
  /** unsubscribe ends the subscription; it resolves when the server confirms. */
  unsubscribe(): Promise<void>;
}

/** A Subscribable channel delivers messages of type T to its subscribers. */
export interface Subscribable<T> {
  /** The channel's name. */
  readonly name: string;
  /**
   * subscribe calls handler with every message of the channel until the
   * subscription ends. It resolves when the server confirms the
   * subscription and rejects with a ReplyError when the server refuses it.
   */
  subscribe(handler: (data: T, message: Message) => void): Promise<Subscription>;
}

/** A Publishable channel takes messages of type T from this client. */
export interface Publishable<T> {
  /** The channel's name. */
  readonly name: string;
  /**
   * publish sends data on the channel. It resolves with the server's reply
   * and rejects with a ReplyError when the server refuses the message (or
   * with a ValidationError, before sending, when the client validates).
   */
  publish(data: T): Promise<Message>;
}

/** A BroadcastChannel is subscribed to and published on. */
export interface BroadcastChannel<T> extends Subscribable<T>, Publishable<T> {}

/**
 * A WildcardChannel ("/news/*", "/news/**") is subscribed to as a whole and
 * published on through the concrete channels it matches.
 */
export interface WildcardChannel<T> extends Subscribable<T> {
  /**
   * publishOn sends data on channel, one of the channels the wildcard
   * matches ("/news/sports" for "/news/*"). It rejects with a ReplyError
   * when the server refuses the message, and with an Error, before
   * sending, when channel is not one the wildcard matches.
   */
  publishOn(channel: string, data: T): Promise<Message>;
}

/** A ServiceChannel serves remote calls: a request of type Req, a reply of type Reply. */
export interface ServiceChannel<Req, Reply> {
  /** The channel's name. */
  readonly name: string;
  /**
   * call sends request and resolves with the server's reply. It rejects
   * with a ReplyError when the call fails or times out.
   */
  call(request: Req, options?: CallOptions): Promise<Reply>;
}

/** ClientError is what ClientOptions.onError receives. */
export type ClientError = ValidationError | HandlerError | ReplyError | ResumeError | ContractError;
