import Database from 'better-sqlite3';
import { expect, it } from 'vitest';
import { migrate } from '../store/migrations';
import { sqliteStoreStats } from './store-stats';

it('counts a shared group body once', () => {
  const db = new Database(':memory:');
  migrate(db);
  // The rows below reference no registered device; only the sums matter.
  db.pragma('foreign_keys = OFF');
  const insert = db.prepare(
    `INSERT INTO envelopes (recipient_user, recipient_device, seq, id, kind,
       sender_user, sender_device, server_ts, body, body_id)
     VALUES (@recipient, 1, @seq, @id, @kind, 'sender', 1, @ts, @body, @bodyId)`,
  );
  insert.run({
    recipient: 'bob',
    seq: 1,
    id: 'pairwise',
    kind: 'message',
    ts: 20,
    body: 'abcd',
    bodyId: null,
  });
  db.prepare(
    `INSERT INTO envelope_bodies (body_id, body, refs) VALUES (1, @body, 2)`,
  ).run({ body: 'x'.repeat(10) });
  for (const [seq, recipient] of [
    [2, 'bob'],
    [1, 'carol'],
  ] as const) {
    insert.run({
      recipient,
      seq,
      id: 'group',
      kind: 'group',
      ts: 10,
      body: '',
      bodyId: 1,
    });
  }

  const queue = sqliteStoreStats(db, ':memory:').queue();

  expect(queue.envelopes).toBe(3);
  expect(queue.bytes).toBe(14);
  expect(queue.oldestServerTs).toBe(10);
  db.close();
});
