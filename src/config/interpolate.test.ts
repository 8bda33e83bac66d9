import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { interpolate, InterpolationError, type RawLookup } from './interpolate.js';

const table: Record<string, string> = {
  'DEFAULT.state_path': '/srv/kestrel',
  'DEFAULT.instances_path': '$state_path/instances',
  'libvirt.images_rbd_pool': 'vms',
  'libvirt.loop_a': '$loop_b',
  'libvirt.loop_b': '$loop_a',
};
const lookup: RawLookup = (g, o) => table[`${g}.${o}`];

describe('interpolate', () => {
  test('$option and ${option} fall back to [DEFAULT]', () => {
    assert.equal(interpolate('$state_path/instances', 'libvirt', lookup), '/srv/kestrel/instances');
    assert.equal(interpolate('${state_path}x', 'libvirt', lookup), '/srv/kestrelx');
  });
  test('references are followed recursively', () => {
    assert.equal(interpolate('$instances_path/_base', 'DEFAULT', lookup), '/srv/kestrel/instances/_base');
  });
  test('same group first, then ${group.option} for another group', () => {
    assert.equal(interpolate('pool=$images_rbd_pool', 'libvirt', lookup), 'pool=vms');
    assert.equal(interpolate('${libvirt.images_rbd_pool}', 'glance', lookup), 'vms');
  });
  test('$$ is a literal dollar; a $ before a non-name is kept', () => {
    assert.equal(interpolate('pa$$word', 'DEFAULT', lookup), 'pa$word');
    assert.equal(interpolate('cost 5$ only', 'DEFAULT', lookup), 'cost 5$ only');
  });
  test('an unknown name is an error that says how to write a literal $', () => {
    assert.throws(
      () => interpolate('pa$word', 'DEFAULT', lookup),
      (e: Error) => e instanceof InterpolationError && /\$\$/.test(e.message),
    );
  });
  test('a loop is an error, not a stack overflow', () => {
    assert.throws(() => interpolate('$loop_a', 'libvirt', lookup, ['libvirt.x']), /loop/);
  });
});
