import assert from 'node:assert/strict';
import { test } from 'node:test';
import { faultBody, faultName, mapError } from '../api/errors.js';
import { FlavorDiskTooSmallFault } from '../compute/disks.js';
import { faultFrom } from '../compute/faults.js';
import { FlavorDiskSmallerThanImageError, ImageError, ImageTooLargeError } from '../images/errors.js';
import { VirtError } from '../virt/errors.js';
import {
  ERROR_CATALOGUE,
  KestrelError,
  badRequest,
  errorFromJson,
  errorToJson,
  isKestrelError,
  type ErrorCode,
} from './index.js';

test('every catalogue code has a 4xx/5xx status, a fault name and a meaning', () => {
  for (const [code, entry] of Object.entries(ERROR_CATALOGUE)) {
    assert.match(code, /^[a-z]+(-[a-z]+)*$/, `${code}: codes are kebab-case`);
    assert.ok(entry.status >= 400 && entry.status < 600, code);
    assert.ok(entry.means.length > 10, code);
    const body = faultBody('compute', entry.status, 'x');
    assert.equal(Object.keys(body).length, 1);
    // Nova names every 4xx fault but 406 (its _FAULT_NAMES has no entry for it).
    if (entry.status < 500 && entry.status !== 406)
      assert.notEqual(faultName(entry.status), 'computeFault', code);
  }
});

test('the status comes from the catalogue for every family (request, image, hypervisor)', () => {
  assert.equal(badRequest('no').status, 400);
  assert.equal(new ImageTooLargeError('i', 10).status, 413);
  assert.equal(new ImageError('storage-unavailable', 'ceph is down').status, 503);
  assert.equal(new VirtError('unsupported-config', 'no SEV').status, 400);
  assert.equal(new VirtError('guest-start-failed', 'qemu died').status, 500);
  for (const e of [
    badRequest('a'),
    new ImageError('disk-exists', 'b'),
    new VirtError('agent-timeout', 'c'),
  ]) {
    assert.ok(e instanceof KestrelError && isKestrelError(e, e.code));
  }
});

test('mapError renders the message and the fix; a stranger error is a 500 without internals', () => {
  const e = new VirtError('firmware-not-found', 'no UEFI firmware', { fix: 'apt-get install ovmf' });
  assert.deepEqual(mapError(e), { status: 400, message: 'no UEFI firmware Fix: apt-get install ovmf' });
  const m = mapError(new Error('secret /var/lib/path detail'));
  assert.equal(m.status, 500);
  assert.doesNotMatch(m.message, /secret/);
});

test('an instance fault carries the real status: a refused request is not a 500', () => {
  const refused = faultFrom(new VirtError('unsupported-config', 'SEV needs q35'), 'Build of instance failed');
  assert.equal(refused.code, 400);
  assert.match(refused.message, /^Build of instance failed: SEV needs q35/);
  const tooSmall = faultFrom(
    new FlavorDiskTooSmallFault(new FlavorDiskSmallerThanImageError(2 * 1024 ** 3, 1024 ** 3)),
    'Build',
  );
  assert.equal(tooSmall.code, 400);
  assert.match(tooSmall.details, /Fix: boot with a flavor whose root disk is at least 2 GiB/);
  assert.equal(faultFrom(new Error('bug'), 'Build').code, 500);
});

test('errors cross a process boundary as plain JSON and come back with code, status and fix', () => {
  const e = new VirtError('agent-not-connected', 'no agent', {
    fix: 'install qemu-guest-agent',
    details: 'log',
  });
  const j = JSON.parse(JSON.stringify(errorToJson(e))) as ReturnType<typeof errorToJson>;
  const back = errorFromJson(j);
  assert.equal(back.code, 'agent-not-connected');
  assert.equal(back.status, 409);
  assert.equal(back.describe(), e.describe());
  assert.equal(errorToJson(new TypeError('x')).code, 'internal');
  assert.equal(errorFromJson({ code: 'no-such-code' as ErrorCode, message: 'm' }).code, 'internal');
});
