import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../config/index.js';
import { parseRole, roleProblems } from './roles.js';

async function config(text: string) {
  const loaded = parseConfigText(text, 'kestrel.conf');
  assert.deepEqual(loaded.errors, []);
  return loaded.config;
}

test('all needs nothing; a bad role is refused with the choices', async () => {
  assert.deepEqual(roleProblems('all', await config('')), []);
  assert.throws(() => parseRole('scheduler'), /--role scheduler: use all .*controller or compute/);
});

test('a controller with SQLite, or without transport_url, refuses with the fix', async () => {
  const p = roleProblems('controller', await config(''));
  assert.equal(p.length, 2);
  assert.match(p[0], /transport_url is unset\. Fix: run nats-server .* transport_url = nats:\/\//);
  assert.match(
    p[1],
    /\[database\] connection is SQLite .*Fix: set \[database\] connection = postgresql:\/\//,
  );
  const ok = await config(
    '[DEFAULT]\ntransport_url = nats://k:pw@10.0.0.2:4222\n[database]\nconnection = postgresql://k:pw@db/kestrel\n',
  );
  assert.deepEqual(roleProblems('controller', ok), []);
});

test('a compute host needs transport_url and holds no database credentials', async () => {
  assert.match(roleProblems('compute', await config(''))[0], /--role compute needs a message bus/);
  assert.deepEqual(
    roleProblems('compute', await config('[DEFAULT]\ntransport_url = nats://k:pw@h:4222\n')),
    [],
  );
  const withDb = await config(
    '[DEFAULT]\ntransport_url = nats://k:pw@h:4222\n[database]\nconnection = postgresql://k:pw@db/kestrel\n',
  );
  assert.match(
    roleProblems('compute', withDb)[0],
    /holds no database credentials.*Fix: remove \[database\] connection/,
  );
  const rabbit = await config('[DEFAULT]\ntransport_url = rabbit://guest:guest@mq:5672/\n');
  assert.match(roleProblems('compute', rabbit)[0], /Kestrel does not speak: its message bus is NATS/);
});
