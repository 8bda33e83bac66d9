// Shared bits for the libvirt client's integration tests.
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { LibvirtError, ErrorCode, isNoSupport, type DomainEvent } from '../../src/libvirt/index.js';

export const DAEMON_SOCKET = '/run/libvirt/libvirt-sock';

/** Why the real-daemon tests cannot run here, or null when they can. */
export function daemonSkipReason(): string | null {
  if (!existsSync(DAEMON_SOCKET))
    return `no libvirtd socket at ${DAEMON_SOCKET} (start it with scripts/start-libvirt)`;
  return null;
}

/** A per-run name for domains and files: kt-rpc-<random>. */
export function ktName(tag = ''): string {
  return `kt-rpc-${tag ? `${tag}-` : ''}${randomBytes(4).toString('hex')}`;
}

/**
 * For a procedure the driver under test does not implement: the daemon must have decoded our
 * arguments (else it answers VIR_ERR_RPC) and answered "not supported".
 */
export async function assertNoSupport(p: Promise<unknown>, what: string): Promise<void> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(err instanceof LibvirtError, `${what}: expected a LibvirtError, got ${String(err)}`);
  assert.notEqual(err.code, ErrorCode.RPC, `${what}: the daemon could not decode the call: ${err.message}`);
  assert.ok(isNoSupport(err), `${what}: expected NO_SUPPORT, got ${err.message}`);
}

/** Waits until `pred` holds over the collected events, or fails naming what arrived. */
export async function waitForEvents<E extends DomainEvent>(
  events: E[],
  pred: (evs: E[]) => boolean,
  timeoutMs: number,
  describe: (e: E) => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred(events)) {
    if (Date.now() > deadline) {
      assert.fail(
        `events did not arrive within ${timeoutMs} ms; got: ${events.map(describe).join(', ') || 'none'}`,
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}
