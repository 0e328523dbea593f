// TEMPORARY stand-in for the typed client that `cometgen generate` will emit
// for the archetypes' specs (issue 6): a hand-written module with the same
// API contract (createClient, onConnectionState, handshake({token}),
// disconnect, and the channels of both archetypes: chatRoom(room),
// membersRoom(room), privateInbox, serviceMembers.call, servicePrivate.call,
// greetings). browser_test.go copies it into a scaffolded project only when
// the generator wrote no web/channels.js. Delete it, and that fallback, once
// the generator emits the client.

function failure(what, reply) {
  const e = new Error(what + " failed: " + (reply.error ?? JSON.stringify(reply.data)));
  e.reply = reply;
  return e;
}

function broadcast(cometd, name, canPublish) {
  const ch = {
    subscribe(handler) {
      return new Promise((resolve, reject) => {
        const sub = cometd.subscribe(name, (m) => handler(m.data, m), (reply) => {
          if (!reply.successful) return reject(failure("subscribe " + name, reply));
          resolve({
            unsubscribe: () => new Promise((res, rej) => cometd.unsubscribe(sub, (r) => r.successful ? res(r) : rej(failure("unsubscribe " + name, r)))),
          });
        });
      });
    },
  };
  if (canPublish) {
    ch.publish = (data) => new Promise((resolve, reject) =>
      cometd.publish(name, data, (reply) => reply.successful ? resolve(reply) : reject(failure("publish " + name, reply))));
  }
  return ch;
}

function service(cometd, name) {
  return {
    call(data, { timeout = 5000 } = {}) {
      return new Promise((resolve, reject) =>
        cometd.remoteCall(name.slice("/service".length), data, timeout, (reply) =>
          reply.successful ? resolve(reply.data) : reject(failure("call " + name, reply))));
    },
  };
}

const param = (value) => {
  if (!/^[a-z0-9_-]{1,32}$/.test(value)) throw new Error("invalid room " + JSON.stringify(value));
  return value;
};

export function createClient(cometd, { onError = () => {} } = {}) {
  const listeners = new Set();
  let state = "disconnected";
  const set = (s) => {
    if (s === state) return;
    state = s;
    for (const f of listeners) f(s);
  };
  cometd.addListener("/meta/connect", (m) => {
    if (cometd.isDisconnected()) set("disconnected");
    else set(m.successful ? "connected" : "reconnecting");
  });
  cometd.addListener("/meta/disconnect", () => set("disconnected"));
  cometd.addListener("/meta/unsuccessful", (m) => onError(failure(m.channel, m)));
  return {
    onConnectionState(f) { listeners.add(f); return () => listeners.delete(f); },
    handshake({ token } = {}) {
      const props = token === undefined ? {} : { ext: { auth: { token } } };
      return new Promise((resolve, reject) =>
        cometd.handshake(props, (reply) => reply.successful ? resolve(reply) : reject(failure("handshake", reply))));
    },
    disconnect() {
      return new Promise((resolve) => cometd.disconnect(() => { set("disconnected"); resolve(); }));
    },
    channels: {
      chatRoom: (room) => broadcast(cometd, "/chat/" + param(room), true),
      membersRoom: (room) => broadcast(cometd, "/members/" + param(room), false),
      privateInbox: broadcast(cometd, "/private/inbox", false),
      serviceMembers: service(cometd, "/service/members"),
      servicePrivate: service(cometd, "/service/private"),
      greetings: broadcast(cometd, "/greetings", true),
    },
  };
}
