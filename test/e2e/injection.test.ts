import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startHerald } from '../helpers/herald.js';
import { openStream } from '../helpers/sse-client.js';

const hostile = [
  'line1\nline2',
  'cr\rsplit',
  'crlf\r\nsplit',
  '\n\nevent: notification\ndata: {"id":"forged"}\n\n',
  '\r\rid: 999\r\r',
  'id: evil\nretry: 1\n',
  'nul\0byte',
  '\u2028\u2029 separators',
  ': comment\n:\n',
  '\uFEFFbom first',
  '😀 multibyte ✓',
];

test('content no publisher can craft breaks the stream: every event arrives whole and exact', async (t) => {
  const herald = await startHerald();
  t.after(() => herald.stop());
  const token = await herald.token('alice');
  const stream = await openStream(herald.url, token);
  t.after(() => stream.close());
  await stream.waitForEvents('ready', 1);
  for (const content of hostile) {
    const res = await herald.publish({ recipients: ['alice'], type: 'alert', title: content, content, data: { [content]: content } });
    assert.equal(res.status, 202, JSON.stringify(content));
  }
  // A sentinel published last: once it arrives, any forged extra event would have too.
  await herald.publish({ recipients: ['alice'], type: 'alert', content: 'sentinel' });
  const all = await stream.waitForEvents('notification', hostile.length + 1);
  assert.equal(all[hostile.length]?.data.content, 'sentinel');
  const events = all.slice(0, hostile.length);
  assert.deepEqual(stream.events.map((e) => e.event), ['ready', ...hostile.map(() => 'notification'), 'notification']);
  assert.deepEqual(events.map((e) => e.data.content), hostile);
  assert.deepEqual(events.map((e) => e.data.title), hostile);
  assert.deepEqual(events.map((e) => e.data.data), hostile.map((c) => ({ [c]: c })));
  assert.ok(events.every((e) => /^[a-z0-9]+\.\d+\.0\.k[0-9a-z]+$/.test(e.id ?? '')), 'ids stay cursors');
});

test('type and recipient cannot carry line breaks into the stream', async (t) => {
  const herald = await startHerald();
  t.after(() => herald.stop());
  for (const body of [
    { recipients: ['alice'], type: 'alert\nevent: x', content: 'c' },
    { recipients: ['alice\nid: 1'], type: 'alert', content: 'c' },
    { recipients: ['ali\rce'], type: 'alert', content: 'c' },
    { recipients: ['alice\0'], type: 'alert', content: 'c' },
    { topic: 'group:ops\n', type: 'alert', content: 'c' },
  ]) {
    const res = await herald.publish(body);
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(res.body.error.code, 'invalid_request');
  }
});
