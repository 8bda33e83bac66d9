import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sanitizeHostname } from './hostname.js';

const U = '6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b';

test('host names as Nova sanitises them', () => {
  assert.equal(sanitizeHostname('test', U), 'test');
  assert.equal(sanitizeHostname('My Web_Server.1', U), 'my-web-server-1');
  assert.equal(sanitizeHostname('web <1> & "db"', U), 'web-1--db');
  assert.equal(sanitizeHostname('--édge--', U), 'dge');
  assert.equal(sanitizeHostname('服务器', U), `server-${U}`);
  assert.equal(sanitizeHostname('a'.repeat(80), U), 'a'.repeat(63));
});
