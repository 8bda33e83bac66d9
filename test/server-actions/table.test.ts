// The server-action table through the Compute API: every row is checked in the same order
// (argument, policy, lock, state), an unknown name is a 400, an unimplemented one a 501 that
// the table itself lists, and a locked server refuses exactly the rows that say lock.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { AGENT_TRANSPORTS } from '../../src/service/core.js';
import { SERVER_ACTIONS, unsupportedActions } from '../../src/control/server-action-table.js';
import { startHarness, uploadImage, type Harness } from '../api/harness.js';

/** A valid argument for each implemented row (what the row's parse accepts). */
const VALID_ARG: Record<string, unknown> = {
  'os-start': null,
  'os-stop': null,
  pause: null,
  unpause: null,
  suspend: null,
  resume: null,
  reboot: { type: 'SOFT' },
  'os-getConsoleOutput': {},
  createImage: { name: 'kt-tab-snap' },
  rebuild: { imageRef: 'IMAGE' },
  shelve: null,
  shelveOffload: null,
  unshelve: null,
  createBackup: { name: 'kt-tab-bak', backup_type: 'daily', rotation: 1 },
  lock: null,
  unlock: null,
  'os-resetState': { state: 'active' },
  forceDelete: null,
  restore: null,
  changePassword: { adminPass: 'pw' },
  'os-getVNCConsole': { type: 'novnc' },
  'os-getSerialConsole': { type: 'serial' },
  'os-getSPICEConsole': { type: 'spice-html5' },
  'os-getRDPConsole': { type: 'rdp-html5' },
};

for (const agent of AGENT_TRANSPORTS) {
  describe(`server-action table (${agent} agent)`, () => {
    let h: Harness;
    let imageId: string;
    let id: string;
    const act = (token: string, body: unknown) =>
      h.call('compute', 'POST', `/v2.1/servers/${id}/action`, { token, body });

    before(async () => {
      h = await startHarness({ agent, tempPrefix: 'kt-sa-table-' });
      imageId = await uploadImage(h, h.admin, 'kt-tab-img', undefined, { visibility: 'public' });
      const r = await h.call('compute', 'POST', '/v2.1/servers', {
        token: h.member,
        body: { server: { name: 'kt-tab', imageRef: imageId, flavorRef: '1' } },
      });
      assert.equal(r.status, 202, r.text);
      id = (r.body as { server: { id: string } }).server.id;
      await h.waitFor(h.member, id, (s) => s.status === 'ACTIVE' && s['OS-EXT-STS:task_state'] === null);
    });
    after(async () => {
      await h.core.settle();
      await h.close();
    });

    test('every implemented row has a valid argument here, and rows that start a task name their states', () => {
      const implemented = Object.keys(SERVER_ACTIONS).filter((n) => !unsupportedActions().includes(n));
      assert.deepEqual(implemented.sort(), Object.keys(VALID_ARG).sort());
      for (const n of implemented) {
        const row = SERVER_ACTIONS[n] as { states: unknown; task?: unknown };
        if (row.task !== undefined)
          assert.notEqual(row.states, 'any', `${n} sets a task, so it names its states`);
      }
    });

    test("body shape, unknown names (400) and the table's unsupported names (501)", async () => {
      assert.equal((await act(h.member, { 'os-stop': null, 'os-start': null })).status, 400);
      assert.equal((await act(h.member, [])).status, 400);
      const none = await act(h.member, { 'os-frobnicate': null });
      assert.equal(none.status, 400);
      assert.match(none.text, /There is no such action: os-frobnicate/);
      for (const name of unsupportedActions()) {
        const r = await act(h.member, { [name]: null });
        assert.equal(r.status, 501, `${name}: ${r.text}`);
        assert.match(r.text, new RegExp(`The ${name} action is not implemented by Kestrel yet`));
      }
      // A prototype key is no action either.
      assert.equal((await act(h.member, { constructor: null })).status, 400);
    });

    test('the argument is checked before the policy; admin-only rows are 403 for a member', async () => {
      const bad = await act(h.member, { 'os-resetState': { state: 'deleted' } });
      assert.equal(bad.status, 400, bad.text);
      const denied = await act(h.member, { 'os-resetState': { state: 'active' } });
      assert.equal(denied.status, 403, denied.text);
      assert.equal((await act(h.member, { shelveOffload: null })).status, 403);
    });

    test('a locked server refuses every row that checks the lock, and only those, for a non-admin', async () => {
      assert.equal((await act(h.member, { lock: null })).status, 202);
      try {
        for (const [name, arg] of Object.entries(VALID_ARG)) {
          const row = SERVER_ACTIONS[name] as { lock: boolean; adminOnly?: string };
          const body = { [name]: name === 'rebuild' ? { imageRef: imageId } : arg };
          if (row.adminOnly) {
            // The policy comes before the lock: a member hears 403 first.
            assert.equal((await act(h.member, body)).status, 403, name);
          } else if (row.lock) {
            const r = await act(h.member, body);
            assert.equal(r.status, 409, `${name}: ${r.text}`);
            assert.match(r.text, new RegExp(`Instance ${id} is locked`), name);
          }
        }
        // The rows without the lock check still answer: the console output, and unlock itself.
        const out = await act(h.member, { 'os-getConsoleOutput': {} });
        assert.equal(out.status, 200, out.text);
      } finally {
        assert.equal((await act(h.member, { unlock: null })).status, 202);
      }
    });

    test("a row's states: a state it does not allow is Nova's 409 naming the action and the state", async () => {
      const r = await act(h.member, { 'os-start': null });
      assert.equal(r.status, 409);
      assert.match(r.text, new RegExp(`Cannot 'os-start' instance ${id} while it is in vm_state active`));
      const reboot = await act(h.member, { reboot: { type: 'HARD' } });
      assert.equal(reboot.status, 202, reboot.text);
      await h.waitFor(h.member, id, (s) => s.status === 'ACTIVE' && s['OS-EXT-STS:task_state'] === null);
    });
  });
}
