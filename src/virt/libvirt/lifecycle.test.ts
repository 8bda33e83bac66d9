// destroy retries libvirt's "could not SIGKILL QEMU: busy" (Nova's _destroy, 3 attempts) and
// nothing else, through a stand-in client on the driver context (the client seam).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { DomainRef, DomainState, ErrorCode, LibvirtError, type LibvirtClient } from '../../libvirt/index.js';
import { DriverContext } from './driver-context.js';
import { GuestLifecycle, isKillBusy } from './lifecycle.js';

function libvirtError(code: number, message: string, int1 = 0): LibvirtError {
  return new LibvirtError(
    {
      code,
      domain: 10,
      message,
      level: 2,
      dom: null,
      str1: null,
      str2: null,
      str3: null,
      int1,
      int2: 0,
      net: null,
    },
    'DOMAIN_DESTROY',
  );
}

const busy = () =>
  libvirtError(
    ErrorCode.SYSTEM_ERROR,
    'Failed to terminate process 4242 with SIGKILL: Device or resource busy',
    16,
  );

/** A running domain whose destroy fails with the given errors first, then succeeds. */
function world(failures: Error[]) {
  const uuid = randomUUID();
  const name = `instance-${uuid}`;
  const calls = { destroy: 0, undefine: 0 };
  const client = {
    domains: {
      lookupByUuid: async () => new DomainRef(name, uuid),
      getXmlDesc: async () =>
        `<domain type='qemu'><name>${name}</name><uuid>${uuid}</uuid><memory unit='KiB'>65536</memory>` +
        `<vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os><devices></devices></domain>`,
      getState: async () => ({
        state: calls.destroy > failures.length ? DomainState.SHUTOFF : DomainState.RUNNING,
        reason: 1,
      }),
      destroy: async () => {
        const e = failures[calls.destroy++];
        if (e) throw e;
      },
      undefine: async () => {
        calls.undefine++;
      },
    },
  };
  const ctx = new DriverContext({ virtType: 'qemu' });
  ctx.client = client as unknown as LibvirtClient;
  return { uuid, calls, lifecycle: new GuestLifecycle(ctx) };
}

describe('libvirt driver destroy under load', () => {
  test('isKillBusy: the EBUSY SIGKILL failure only', () => {
    assert.equal(isKillBusy(busy()), true);
    assert.equal(
      isKillBusy(libvirtError(ErrorCode.SYSTEM_ERROR, 'Failed to open file: Permission denied', 13)),
      false,
    );
    assert.equal(isKillBusy(libvirtError(ErrorCode.OPERATION_FAILED, 'Device or resource busy')), false);
    assert.equal(isKillBusy(new Error('Device or resource busy')), false);
  });

  test('a busy kill is retried and the guest is then undefined', async () => {
    const w = world([busy(), busy()]);
    await w.lifecycle.destroy(w.uuid);
    assert.equal(w.calls.destroy, 3, 'two failures, then the third attempt succeeds');
    assert.equal(w.calls.undefine, 1);
  });

  test('after three busy failures destroy gives up with the error', async () => {
    const w = world([busy(), busy(), busy(), busy()]);
    await assert.rejects(w.lifecycle.destroy(w.uuid), /Device or resource busy/);
    assert.equal(w.calls.destroy, 3, 'Nova tries three times in all');
    assert.equal(w.calls.undefine, 0);
  });

  test('any other failure is not retried', async () => {
    const w = world([libvirtError(ErrorCode.INTERNAL_ERROR, 'something else broke')]);
    await assert.rejects(w.lifecycle.destroy(w.uuid), /something else broke/);
    assert.equal(w.calls.destroy, 1);
  });
});
