import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFailure } from './failures.js';

test("no supported architecture for os type 'hvm' becomes the guide's explanation + kestrel doctor", async () => {
  const e = await startFailure(
    new Error("internal error: no supported architecture for os type 'hvm'"),
    'u',
    'n',
    '/nonexistent',
  );
  assert.equal(e.code, 'kvm-unavailable');
  assert.match(e.message, /KVM kernel modules are not loaded/);
  assert.match(e.fix, /kestrel doctor/);
});

test('a QEMU start failure carries the tail of the QEMU log', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kt-virt-log-'));
  try {
    const lines = Array.from({ length: 40 }, (_, i) => `line ${i}`);
    lines.push('qemu-system-x86_64: -blockdev ...: Image is not in qcow2 format');
    await writeFile(join(dir, 'instance-x.log'), lines.join('\n') + '\n');
    const e = await startFailure(
      new Error(
        'libvirt DOMAIN_CREATE_WITH_FLAGS failed: internal error: QEMU unexpectedly closed the monitor',
      ),
      'u',
      'instance-x',
      dir,
    );
    assert.equal(e.code, 'guest-start-failed');
    assert.match(e.details ?? '', /Image is not in qcow2 format/);
    assert.ok(!(e.details ?? '').includes('line 5\n'), 'only the tail');
    assert.match(e.fix, /instance-x\.log/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
