/** ReplyError is a refusal by the server: a reply whose successful is false. */
export class ReplyError extends Error {
  /** The channel of the refused operation. */
  readonly channel: string;
  /** The server's reply: its error says why, as code:args:message. */
  readonly reply: Message;

  constructor(channel: string, reply: Message) {
    super(`${channel}: ${failureOf(reply)}`);
    this.name = "ReplyError";
    this.channel = channel;
    this.reply = reply;
  }
}

/** ValidationError is a message that does not match its channel's schema. */
export class ValidationError extends Error {
  /** The channel of the message. */
  readonly channel: string;
  /** Each way the message breaks its schema, as "/path: problem". */
  readonly violations: readonly string[];

  constructor(channel: string, what: string, violations: readonly string[]) {
    super(`${channel}: ${what} does not match its schema: ${violations.join("; ")}`);
    this.name = "ValidationError";
    this.channel = channel;
    this.violations = violations;
  }
}

/** HandlerError is an error thrown by a subscription or state listener. */
export class HandlerError extends Error {
  /** The channel whose message the listener was handling. */
  readonly channel: string;

  constructor(channel: string, cause: unknown) {
    super(`${channel}: listener failed: ${String(cause)}`, { cause });
    this.name = "HandlerError";
    this.channel = channel;
  }
}

/**
 * ResumeError says that the server could not replay everything the client
 * missed while it reconnected (the resume extension): messages were lost.
 */
export class ResumeError extends Error {
  /** The channel whose reply told of the gap: /meta/connect. */
  readonly channel: string;
  /** The position of the last message received before the gap. */
  readonly position: number;

  constructor(position: number) {
    super(`/meta/connect: resumed after position ${position} with a gap: some messages were lost`);
    this.name = "ResumeError";
    this.channel = "/meta/connect";
    this.position = position;
  }
}

/**
 * ContractError says that the server's contract changed in a way that
 * breaks this client, where the default of onContractChanged cannot reload
 * a page.
 */
export class ContractError extends Error {
  /** The channel whose reply told of the change: /meta/handshake. */
  readonly channel: string;
  /** What changed. */
  readonly change: ContractChange;

  constructor(change: ContractChange) {
    super(
      `/meta/handshake: the server's contract ${change.spec} breaks ${change.breaking.join(", ")}`,
    );
    this.name = "ContractError";
    this.channel = "/meta/handshake";
    this.change = change;
  }
}

/** A Check returns the ways data breaks a schema; none when it is valid. */
type Check = (data: unknown) => readonly string[];

/** A ParamRule is the schema of a channel parameter. */
interface ParamRule {
  pattern?: RegExp;
  minLength?: number;
  maxLength?: number;
  values?: readonly string[];
}

/** The characters of a channel segment, as the Bayeux server accepts them. */
const segmentChars = /^[A-Za-z0-9 !#$()+\-.@_{}~]+$/;

/** param returns value after checking it against its parameter's rule. */
function param(channel: string, name: string, value: string, rule: ParamRule): string {
  const fail = (why: string): never => {
    throw new TypeError(`${channel}: parameter ${name} ${JSON.stringify(value)} ${why}`);
  };
  if (typeof value !== "string" || !segmentChars.test(value)) {
    fail("is not a channel segment");
  }
  const length = [...value].length;
  if (rule.minLength !== undefined && length < rule.minLength) {
    fail(`is shorter than ${rule.minLength}`);
  }
  if (rule.maxLength !== undefined && length > rule.maxLength) {
    fail(`is longer than ${rule.maxLength}`);
  }
  if (rule.pattern !== undefined && !rule.pattern.test(value)) {
    fail(`does not match ${rule.pattern.source}`);
  }
  if (rule.values !== undefined && !rule.values.includes(value)) {
    fail(`is not one of ${rule.values.join(", ")}`);
  }
  return value;
}

// matchesWildcard reports whether the concrete channel is one the wildcard
// channel ("/news/*": one more segment, "/news/**": one or more) matches.
function matchesWildcard(wildcard: string, channel: string): boolean {
  const deep = wildcard.endsWith("/**");
  const prefix = wildcard.slice(0, wildcard.length - (deep ? 2 : 1));
  if (!channel.startsWith(prefix) || channel.length === prefix.length || channel.includes("*")) {
    return false;
  }
  const rest = channel.slice(prefix.length);
  return rest.split("/").every((s) => s !== "") && (deep || !rest.includes("/"));
}

/** failureOf says why a reply failed. */
function failureOf(reply: Message): string {
  if (typeof reply.error === "string" && reply.error !== "") {
    return reply.error;
  }
  if (typeof reply.data === "string" && reply.data !== "") {
    return reply.data;
  }
  return "failed";
}

/** A subscription of the application, subscribed again after a new handshake. */
interface Live {
  readonly channel: string;
  readonly deliver: (message: Message) => void;
  handle: ReturnType<CometD["subscribe"]>;
}

/** Link is the typed layer over one CometD instance. */
class Link {
  readonly cometd: CometD;
  readonly #onError: (error: ClientError) => void;
  readonly #callTimeout: number;
  /** The contract this client was generated from, which handshakes carry. */
  readonly #contract: object;
  readonly #onContractChanged: (change: ContractChange) => void;
  readonly #stateListeners = new Set<(state: ConnectionState) => void>();
  #state: ConnectionState = "disconnected";
  readonly #live = new Set<Live>();
  /**
   * The position of the newest message received, or of the first
   * subscription when none was (the resume extension); -1: none.
   */
  #position = -1;
  /**
   * The history the position is of, and the history of this session's
   * positions (the handshake reply's ext.resumeStream); "": not named.
   */
  #positionStream = "";
  #stream = "";
  /** This session's id, and the one before it, which a resume continues. */
  #clientId = "";
  #previousId = "";

  constructor(cometd: CometD, options: ClientOptions, contract: object) {
    this.cometd = cometd;
    this.#onError = options.onError ?? ((error) => console.error(error));
    this.#callTimeout = options.callTimeout ?? 10000;
    this.#contract = contract;
    this.#onContractChanged = options.onContractChanged ?? ((change) => this.#reload(change));
    cometd.registerExtension("cometgen-resume", {
      outgoing: (message) => this.#outgoing(message),
      incoming: (message) => this.#incoming(message),
    });
    cometd.addListener("/meta/handshake", (m) => {
      this.#contractChanged(m);
      if (!m.successful) {
        this.#setState(m.advice?.reconnect === "none" ? "disconnected" : "reconnecting");
      } else if (m.reestablish === true) {
        this.#resubscribe();
      } else {
        this.#live.clear(); // a first handshake: the CometD client starts afresh
      }
    });
    cometd.addListener("/meta/connect", (m) => {
      if (m.successful) {
        this.#setState("connected");
      } else {
        this.#setState(cometd.isDisconnected() ? "disconnected" : "reconnecting");
      }
    });
    cometd.addListener("/meta/disconnect", () => this.#setState("disconnected"));
  }

  /**
   * A handshake asks for the resume extension and says which contract the
   * client was generated from.
   */
  #outgoing(message: Message): Message {
    if (message.channel === "/meta/handshake") {
      message.ext = { ...message.ext, resume: true, contract: this.#contract };
    }
    return message;
  }

  /**
   * A handshake's reply that names channels of the contract that break
   * goes to onContractChanged.
   */
  #contractChanged(message: Message): void {
    const c = (message.ext as { contract?: Partial<ContractChange> } | undefined)?.contract;
    if (message.successful !== true || !Array.isArray(c?.breaking) || c.breaking.length === 0) {
      return;
    }
    const change: ContractChange = {
      breaking: c.breaking.map(String),
      spec: String(c.spec ?? ""),
      hash: String(c.hash ?? ""),
    };
    try {
      this.#onContractChanged(change);
    } catch (e) {
      this.#onError(new HandlerError("/meta/handshake", e));
    }
  }

  /** The default of onContractChanged: reload the page, if there is one. */
  #reload(change: ContractChange): void {
    const location = (globalThis as { location?: { reload?: () => void } }).location;
    if (typeof location?.reload === "function") {
      location.reload();
    } else {
      this.#onError(new ContractError(change));
    }
  }

  /**
   * Messages at or before the newest position received are repeats (a
   * replay overlapping what the old session delivered) and are dropped. A
   * subscribe's reply tells the position it joined at, which a client that
   * has received nothing yet resumes from. A position of another history
   * than the session's (one reset since) says nothing about this one: the
   * next message, or a subscribe's reply (this history's start, 0),
   * replaces it. A connect reply saying a replay was incomplete goes to
   * onError.
   */
  #incoming(message: Message): Message | null {
    const resume = (message.ext as { resume?: unknown } | undefined)?.resume;
    switch (message.channel) {
      case "/meta/handshake":
        if (message.successful === true) {
          this.#previousId = this.#clientId;
          this.#clientId = message.clientId ?? "";
          const stream = (message.ext as { resumeStream?: unknown } | undefined)?.resumeStream;
          this.#stream = typeof stream === "string" ? stream : "";
        }
        break;
      case "/meta/subscribe":
        if (message.successful !== true) {
          break;
        }
        if (this.#foreign()) {
          this.#position = 0; // nothing of this session's history received yet
          this.#positionStream = this.#stream;
        } else if (typeof resume === "number" && this.#position < 0) {
          this.#position = resume;
          this.#positionStream = this.#stream;
        }
        break;
      case "/meta/connect":
        if (resume === false) {
          this.#onError(new ResumeError(Math.max(this.#position, 0)));
        }
        break;
      default:
        if (
          typeof resume === "number" &&
          message.data !== undefined &&
          message.successful === undefined
        ) {
          if (resume <= this.#position && !this.#foreign()) {
            return null;
          }
          this.#position = resume;
          this.#positionStream = this.#stream;
        }
    }
    return message;
  }

  /** Whether the position is of another history than this session's. */
  #foreign(): boolean {
    return (
      this.#position >= 0 &&
      this.#positionStream !== "" &&
      this.#stream !== "" &&
      this.#positionStream !== this.#stream
    );
  }

  /**
   * After a new handshake (the server lost the session: it restarted, or
   * its node died) the CometD client has forgotten the subscriptions: they
   * are made again, in one batch, each asking for what came after the
   * newest position received (replayed in one pass, in order, without the
   * old session's own messages where they were left out), in the history
   * it names (a server on another replays its own from the start, and
   * tells of a gap).
   */
  #resubscribe(): void {
    const props =
      this.#position >= 0
        ? {
            ext: {
              resume: {
                position: this.#position,
                session: this.#previousId,
                stream: this.#positionStream,
              },
            },
          }
        : {};
    this.cometd.batch(() => {
      for (const live of this.#live) {
        live.handle = this.cometd.subscribe(live.channel, live.deliver, props, (reply) => {
          if (!reply.successful) {
            this.#live.delete(live);
            this.#onError(new ReplyError(live.channel, reply));
          }
        });
      }
    });
  }

  #setState(state: ConnectionState): void {
    if (state === this.#state) {
      return;
    }
    this.#state = state;
    for (const listener of [...this.#stateListeners]) {
      try {
        listener(state);
      } catch (e) {
        this.#onError(new HandlerError("/meta/connect", e));
      }
    }
  }

  onConnectionState(listener: (state: ConnectionState) => void): () => void {
    this.#stateListeners.add(listener);
    return () => {
      this.#stateListeners.delete(listener);
    };
  }

  handshake(ext: object | undefined): Promise<Message> {
    return new Promise((resolve, reject) => {
      const props = ext === undefined ? {} : { ext };
      this.cometd.handshake(props, (reply) => {
        if (reply.successful) {
          resolve(reply);
        } else {
          reject(new ReplyError("/meta/handshake", reply));
        }
      });
    });
  }

  disconnect(): Promise<void> {
    this.#live.clear();
    this.#position = -1;
    this.#positionStream = "";
    this.#clientId = "";
    return new Promise((resolve) => {
      this.cometd.disconnect(() => resolve());
    });
  }

  subscribe<T>(
    channel: string,
    check: Check | undefined,
    handler: (data: T, message: Message) => void,
  ): Promise<Subscription> {
    return new Promise((resolve, reject) => {
      const deliver = (message: Message) => {
        const violations = check?.(message.data) ?? [];
        if (violations.length > 0) {
          this.#onError(new ValidationError(message.channel, "a message", violations));
          return;
        }
        try {
          handler(message.data as T, message);
        } catch (e) {
          this.#onError(new HandlerError(message.channel, e));
        }
      };
      const live: Live = {
        channel,
        deliver,
        handle: this.cometd.subscribe(channel, deliver, (reply) => {
          if (!reply.successful) {
            reject(new ReplyError(channel, reply));
            return;
          }
          this.#live.add(live);
          resolve({
            channel,
            unsubscribe: () =>
              new Promise<void>((done, fail) => {
                this.#live.delete(live);
                this.cometd.unsubscribe(live.handle, (r) => {
                  if (r.successful) {
                    done();
                  } else {
                    fail(new ReplyError(channel, r));
                  }
                });
              }),
          });
        }),
      };
    });
  }

  publish<T>(channel: string, check: Check | undefined, data: T): Promise<Message> {
    return new Promise((resolve, reject) => {
      const violations = check?.(data) ?? [];
      if (violations.length > 0) {
        reject(new ValidationError(channel, "the message", violations));
        return;
      }
      this.cometd.publish(channel, data, (reply) => {
        if (reply.successful) {
          resolve(reply);
        } else {
          reject(new ReplyError(channel, reply));
        }
      });
    });
  }

  call<Req, Reply>(
    channel: string,
    checkRequest: Check | undefined,
    checkReply: Check | undefined,
    request: Req,
    options?: CallOptions,
  ): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const violations = checkRequest?.(request) ?? [];
      if (violations.length > 0) {
        reject(new ValidationError(channel, "the request", violations));
        return;
      }
      const timeout = options?.timeout ?? this.#callTimeout;
      this.cometd.remoteCall(channel.slice("/service".length), request, timeout, (reply) => {
        if (!reply.successful) {
          reject(new ReplyError(channel, reply));
          return;
        }
        const wrong = checkReply?.(reply.data) ?? [];
        if (wrong.length > 0) {
          const error = new ValidationError(channel, "the reply", wrong);
          this.#onError(error);
          reject(error);
          return;
        }
        resolve(reply.data as Reply);
      });
    });
  }

  broadcast<T>(name: string, check?: Check): BroadcastChannel<T> {
    return {
      name,
      subscribe: (handler) => this.subscribe(name, check, handler),
      publish: (data) => this.publish(name, check, data),
    };
  }

  subscribable<T>(name: string, check?: Check): Subscribable<T> {
    return { name, subscribe: (handler) => this.subscribe(name, check, handler) };
  }

  publishable<T>(name: string, check?: Check): Publishable<T> {
    return { name, publish: (data) => this.publish(name, check, data) };
  }

  wildcard<T>(name: string, check?: Check): WildcardChannel<T> {
    return {
      name,
      subscribe: (handler) => this.subscribe(name, check, handler),
      publishOn: (channel, data) =>
        matchesWildcard(name, channel)
          ? this.publish(channel, check, data)
          : Promise.reject(new Error(`${channel} is not a channel of ${name}`)),
    };
  }

  service<Req, Reply>(
    name: string,
    checkRequest?: Check,
    checkReply?: Check,
  ): ServiceChannel<Req, Reply> {
    return {
      name,
      call: (request, options) => this.call(name, checkRequest, checkReply, request, options),
    };
  }
}
