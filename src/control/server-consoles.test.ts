import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Instance, Repositories } from '../db/index.js';
import { isKestrelError } from '../errors/index.js';
import type { AgentDirectory } from './agent-directory.js';
import { ConsoleService, hashToken } from './server-consoles.js';

const svc = (o: Partial<ConstructorParameters<typeof ConsoleService>[2]> = {}) =>
  new ConsoleService({} as Repositories, {} as AgentDirectory, {
    vncEnabled: true,
    serialEnabled: false,
    tokenTtlSeconds: 600,
    baseUrl: () => 'http://127.0.0.1:6080/vnc_lite.html',
    ...o,
  });
const inst = { uuid: 'u', vmState: 'active', host: 'h', projectId: 'p' } as Instance;

const status = (code: number, re: RegExp) => (e: unknown) =>
  isKestrelError(e) && e.status === code && re.test(e.message);

test('console requests: the wrong protocol, type or body is a 400 naming what to send', async () => {
  const s = svc();
  await assert.rejects(s.create(inst, 'spice', 'spice-html5'), status(400, /no SPICE consoles/));
  await assert.rejects(s.create(inst, 'rdp', 'rdp-html5'), status(400, /Hyper-V/));
  await assert.rejects(s.create(inst, 'vnc', 'xvpvnc'), status(400, /serves type "novnc"/));
  await assert.rejects(s.create(inst, 'telnet', 'x'), status(400, /Unknown console protocol/));
  await assert.rejects(
    s.create(inst, 'serial', 'serial'),
    status(400, /\[serial_console\] enabled is false/),
  );
  await assert.rejects(
    s.create({ ...inst, vmState: 'stopped' }, 'vnc', 'novnc'),
    status(409, /not ready for a console: it is stopped/),
  );
  assert.throws(() => s.checkRemoteConsoleBody({}), status(400, /remote_console/));
  assert.throws(
    () => s.checkRemoteConsoleBody({ remote_console: { protocol: 'vnc' } }),
    status(400, /strings/),
  );
  assert.throws(
    () => s.checkRemoteConsoleBody({ remote_console: { protocol: 'vnc', type: 'novnc', x: 1 } }),
    status(400, /unknown field\(s\) x/),
  );
  assert.deepEqual(s.fromAction('os-getVNCConsole', { type: 'novnc' }), { protocol: 'vnc', type: 'novnc' });
  assert.throws(() => s.fromAction('os-getSerialConsole', null), status(400, /\{"type": "serial"\}/));
  const down = svc({ baseUrl: () => ({ problem: 'the port is taken' }) });
  await assert.rejects(down.create(inst, 'vnc', 'novnc'), status(503, /the port is taken/));
  assert.equal(hashToken('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
});
