// A worker's bus sends the messages it publishes in one turn of its loop to the primary as
// one IPC message, in order, and hands a received batch to its hub in order. The channel
// here is a stand-in recording what would cross the pipe (pure logic: no processes).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BusMessage } from '../../src/bus/bus.js';
import { ClusterBus } from '../../src/cluster/cluster-bus.js';
import type { PrimaryChannel } from '../../src/cluster/channel.js';
import type { ToPrimary, ToWorker } from '../../src/cluster/messages.js';

function standInChannel() {
  const sent: ToPrimary[] = [];
  const handlers = new Map<string, (message: ToWorker) => void>();
  const channel = {
    connected: true,
    on: (t: string, handler: (message: ToWorker) => void) => handlers.set(t, handler),
    send: (message: ToPrimary) => sent.push(message),
  };
  return { channel: channel as unknown as PrimaryChannel, sent, receive: (message: ToWorker) => handlers.get(message.t)?.(message) };
}

const removed = (id: string): BusMessage => ({ kind: 'removed', notifications: [{ id, topic: 'user:alice' }] });
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

test('messages published in one turn cross to the primary as one IPC message, in order', async () => {
  const { channel, sent } = standInChannel();
  const bus = new ClusterBus(channel);
  await bus.start({ onMessage: () => {}, onResync: () => {} });
  void bus.publish(removed('a'));
  void bus.publish(removed('b'));
  void bus.publish(removed('c'));
  await nextTurn();
  assert.deepEqual(sent, [{ t: 'herald:bus', messages: [removed('a'), removed('b'), removed('c')] }]);
});

test('messages published in different turns cross as separate IPC messages', async () => {
  const { channel, sent } = standInChannel();
  const bus = new ClusterBus(channel);
  await bus.start({ onMessage: () => {}, onResync: () => {} });
  void bus.publish(removed('a'));
  await nextTurn();
  void bus.publish(removed('b'));
  await nextTurn();
  assert.deepEqual(sent, [{ t: 'herald:bus', messages: [removed('a')] }, { t: 'herald:bus', messages: [removed('b')] }]);
});

test('the worker\'s own hub gets each message it publishes, in order', async () => {
  const { channel } = standInChannel();
  const bus = new ClusterBus(channel);
  const heard: BusMessage[] = [];
  await bus.start({ onMessage: (message) => heard.push(message), onResync: () => {} });
  void bus.publish(removed('a'));
  void bus.publish(removed('b'));
  await nextTurn();
  assert.deepEqual(heard, [removed('a'), removed('b')]);
});

test('a batch from another worker reaches the hub message by message, in order', async () => {
  const { channel, receive } = standInChannel();
  const bus = new ClusterBus(channel);
  const heard: BusMessage[] = [];
  await bus.start({ onMessage: (message) => heard.push(message), onResync: () => {} });
  receive({ t: 'herald:bus', messages: [removed('x'), removed('y')] });
  assert.deepEqual(heard, [removed('x'), removed('y')]);
});
