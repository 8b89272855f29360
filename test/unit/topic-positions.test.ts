import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TopicPositions } from '../../src/sse/topic-positions.js';

const topics = ['user:alice', 'broadcast', 'group:ops'];

test('a reader starts at 0 on every topic of its audience', () => {
  const positions = new TopicPositions(topics);
  assert.deepEqual(topics.map((t) => positions.get(t)), [0, 0, 0]);
});

test('set moves one topic and answers the id hash it replaces', () => {
  const positions = new TopicPositions(topics);
  assert.equal(positions.set('group:ops', 4, 111), 0);
  assert.equal(positions.set('group:ops', 5, 222), 111);
  assert.deepEqual(topics.map((t) => positions.get(t)), [0, 0, 5]);
});

test('a topic outside the audience has no position and cannot be moved', () => {
  const positions = new TopicPositions(topics);
  assert.equal(positions.set('group:other', 9, 333), 0);
  assert.equal(positions.get('group:other'), undefined);
});
