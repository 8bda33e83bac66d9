import { test } from 'node:test';
import assert from 'node:assert/strict';
import SQLite from 'better-sqlite3';
import { withStatementCache } from './sqlite-statements.js';

test('statement cache: one statement per SQL text, the least recently used dropped past the bound', () => {
  const raw = new SQLite(':memory:');
  const db = withStatementCache(raw, 2);
  try {
    const a = db.prepare('SELECT 1 AS x');
    assert.equal(db.prepare('SELECT 1 AS x'), a);
    const b = db.prepare('SELECT 2 AS x');
    db.prepare('SELECT 1 AS x'); // a is now the most recent
    db.prepare('SELECT 3 AS x'); // evicts b
    assert.equal(db.prepare('SELECT 1 AS x'), a);
    assert.notEqual(db.prepare('SELECT 2 AS x'), b);
    assert.deepEqual(a.all([]), [{ x: 1 }]);
  } finally {
    db.close();
  }
  assert.equal(raw.open, false);
});

test('statement cache: a statement busy in an open iterate() is not handed out again', () => {
  const db = withStatementCache(new SQLite(':memory:'));
  try {
    const sql = 'SELECT value FROM json_each(?)';
    const it = db.prepare(sql).iterate(['[1,2,3]']);
    assert.deepEqual(it.next().value, { value: 1 });
    const other = db.prepare(sql); // the cached one is mid-iteration
    assert.deepEqual(other.all(['[7]']), [{ value: 7 }]);
    assert.deepEqual(
      [...it].map((r) => (r as { value: number }).value),
      [2, 3],
    );
  } finally {
    db.close();
  }
});
