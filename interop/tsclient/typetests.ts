// Type-level tests of the generated client of examples/chat: the valid uses
// compile, and every line after a @ts-expect-error must stay an error (tsc
// fails on an unused @ts-expect-error). interop/tsclient_test.go compiles
// this file beside the TypeScript form and beside the JavaScript form
// (its .d.ts) of the client.
import type { CometD } from "cometd";
import {
  createClient,
  ReplyError,
  ValidationError,
  type ChatMessage,
  type Client,
  type ConnectionState,
  type MembersRoomMessage,
} from "./channels.js";

declare const cometd: CometD;
const client: Client = createClient(cometd, { onError: (e) => console.error(e.channel), callTimeout: 5000 });

export async function valid(): Promise<void> {
  await client.handshake({ token: "alice" });
  const room = client.channels.chatRoom("demo");
  const name: string = room.name;
  const sub = await room.subscribe((m: ChatMessage, message) => m.text.length + message.channel.length);
  await room.publish({ text: "hi" });
  await room.publish({ user: "alice", text: "hi" });
  await sub.unsubscribe();
  await client.channels.membersRoom("demo").subscribe((m: MembersRoomMessage) => m.members.join(", "));
  const members: string[] = await client.channels.serviceMembers.call({ room: "demo" }, { timeout: 1000 });
  const sent = await client.channels.servicePrivate.call({ to: "bob", text: "psst" });
  const delivered: number = sent.delivered;
  await client.channels.privateInbox.subscribe((m) => m.from + m.to + m.text);
  await client.channels.systemNotice.subscribe((m) => m.time.length);
  const off: () => void = client.onConnectionState((state: ConnectionState) => state === "reconnecting");
  off();
  try {
    await client.disconnect();
  } catch (e) {
    if (e instanceof ReplyError) {
      console.log(e.reply.error, e.channel);
    } else if (e instanceof ValidationError) {
      console.log(e.violations.join());
    }
  }
  console.log(name, members, delivered);
}

export async function invalid(): Promise<void> {
  const room = client.channels.chatRoom("demo");
  // @ts-expect-error text is a string
  await room.publish({ text: 42 });
  // @ts-expect-error text is required
  await room.publish({ user: "alice" });
  // @ts-expect-error a message is an object
  await room.publish("hi");
  // @ts-expect-error /chat/{room} takes its room
  client.channels.chatRoom();
  // @ts-expect-error /chat/{room} takes one parameter
  client.channels.chatRoom("demo", "more");
  // @ts-expect-error a parameter is a string
  client.channels.chatRoom(7);
  // @ts-expect-error only the server publishes on /members/{room}
  await client.channels.membersRoom("demo").publish({ room: "demo", members: [] });
  // @ts-expect-error only the server publishes on /private/inbox
  await client.channels.privateInbox.publish({ from: "a", to: "b", text: "c" });
  // @ts-expect-error only the server publishes on /system/notice
  await client.channels.systemNotice.publish({ text: "hi", time: "2026-01-01T00:00:00Z" });
  // @ts-expect-error a handler takes a ChatMessage
  await room.subscribe((m: { body: string }) => m.body);
  // @ts-expect-error the members' reply is a string[]
  const count: number = await client.channels.serviceMembers.call({ room: "demo" });
  // @ts-expect-error the members' request needs its room
  await client.channels.serviceMembers.call({});
  // @ts-expect-error a service channel is called, not published on
  await client.channels.serviceMembers.publish({ room: "demo" });
  // @ts-expect-error the spec requires credentials at handshake
  await client.handshake();
  // @ts-expect-error the channel does not exist
  client.channels.chatRooms("demo");
  // @ts-expect-error the state is one of three strings
  client.onConnectionState((state: number) => state);
  console.log(count);
}
