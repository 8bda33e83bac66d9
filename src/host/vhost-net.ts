// vhost_net: the guide's "KVM performance tweaks" — the VHostNet kernel module improves network
// performance; it is present when /dev/vhost-net exists.
import type { StatFn } from './device-stat.js';
import { check, type Check } from './types.js';

export async function readVhostNet(statFn: StatFn): Promise<boolean> {
  const s = await statFn('/dev/vhost-net');
  return s.exists && s.isCharDevice;
}

export function checkVhostNet(present: boolean): Check {
  return present
    ? check('vhost-net', 'vhost_net', 'pass', '/dev/vhost-net present')
    : check(
        'vhost-net',
        'vhost_net',
        'warn',
        '/dev/vhost-net does not exist',
        'The VHostNet kernel module improves network performance. To load it, run as root: modprobe vhost_net',
      );
}
