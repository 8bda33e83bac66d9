// libvirt reachable, and the libvirt and QEMU versions against Nova's minimums (nova-facts §1.2:
// init_host raises "Nova requires libvirt version X or greater" below MIN_*, and warns below
// NEXT_MIN_*). Read with `virsh version` until the RPC client in src/libvirt/ can be used.
import { defaultRunner, type CommandRunner } from './command-runner.js';
import { check, type Check } from './types.js';

export type Version = [number, number, number];

export const MIN_LIBVIRT_VERSION: Version = [8, 0, 0];
export const NEXT_MIN_LIBVIRT_VERSION: Version = [10, 0, 0];
export const MIN_QEMU_VERSION: Version = [6, 2, 0];
export const NEXT_MIN_QEMU_VERSION: Version = [8, 2, 2];

export interface LibvirtVersions {
  reachable: boolean;
  /** Why libvirt could not be asked (virsh's error), when not reachable. */
  error?: string;
  libvirt?: Version;
  qemu?: Version;
}

export function parseVersion(text: string): Version | undefined {
  const m = /(\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : undefined;
}

export function compareVersions(a: Version, b: Version): number {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

export const formatVersion = (v: Version): string => v.join('.');

/** Parses `virsh version`: "Using library: libvirt 9.0.0" and "Running hypervisor: QEMU 7.2.22". */
export function parseVirshVersion(text: string): { libvirt?: Version; qemu?: Version } {
  const lib = /^Using library:\s*libvirt\s+(\S+)/m.exec(text);
  const hv = /^Running hypervisor:\s*QEMU\s+(\S+)/m.exec(text);
  return { libvirt: lib ? parseVersion(lib[1]) : undefined, qemu: hv ? parseVersion(hv[1]) : undefined };
}

export async function readLibvirtVersions(
  uri: string,
  runner: CommandRunner = defaultRunner,
): Promise<LibvirtVersions> {
  try {
    // The first call after libvirtd starts probes QEMU (a few seconds); allow for it.
    const r = await runner(['virsh', '-c', uri, 'version'], { timeoutMs: 20_000 });
    if (r.timedOut) return { reachable: false, error: `virsh -c ${uri} version timed out` };
    if (r.code !== 0) {
      return { reachable: false, error: (r.stderr || r.stdout).trim().split('\n').slice(0, 2).join(' ') };
    }
    return { reachable: true, ...parseVirshVersion(r.stdout) };
  } catch (e) {
    return { reachable: false, error: (e as Error).message };
  }
}

const START_LIBVIRT =
  'Start the daemons: virtlogd -d, then libvirtd (under a subreaper: setsid tini -s -- /usr/sbin/libvirtd &), ' +
  'or run scripts/start-libvirt / npm run setup; then check with: virsh -c qemu:///system version';

export function checkLibvirt(v: LibvirtVersions, uri: string): Check[] {
  if (!v.reachable) {
    return [
      check(
        'libvirt.reachable',
        'libvirt reachable',
        'fail',
        `${uri}: ${v.error ?? 'no answer'}`,
        START_LIBVIRT,
      ),
      check('libvirt.version', 'libvirt version', 'skip', 'libvirt is not reachable', null),
      check('qemu.version', 'QEMU version', 'skip', 'libvirt is not reachable', null),
    ];
  }
  return [
    check('libvirt.reachable', 'libvirt reachable', 'pass', `${uri} answers`),
    versionCheck(
      'libvirt.version',
      'libvirt version',
      'libvirt',
      v.libvirt,
      MIN_LIBVIRT_VERSION,
      NEXT_MIN_LIBVIRT_VERSION,
    ),
    versionCheck('qemu.version', 'QEMU version', 'QEMU', v.qemu, MIN_QEMU_VERSION, NEXT_MIN_QEMU_VERSION),
  ];
}

function versionCheck(
  id: string,
  title: string,
  name: string,
  have: Version | undefined,
  min: Version,
  nextMin: Version,
): Check {
  if (!have) return check(id, title, 'warn', `virsh version did not report a ${name} version`, null);
  const found = `${name} ${formatVersion(have)} (minimum ${formatVersion(min)}, next minimum ${formatVersion(nextMin)})`;
  if (compareVersions(have, min) < 0) {
    return check(
      id,
      title,
      'fail',
      found,
      `Kestrel requires ${name} version ${formatVersion(min)} or greater; upgrade it.`,
    );
  }
  if (compareVersions(have, nextMin) < 0) {
    return check(
      id,
      title,
      'warn',
      found,
      `Running with a ${name} version less than ${formatVersion(nextMin)} is deprecated; plan an upgrade.`,
    );
  }
  return check(id, title, 'pass', found);
}

/** `virsh domcapabilities` XML, or an error text. Tries --virttype kvm first (SEV needs KVM). */
export async function readDomainCapabilities(
  uri: string,
  runner: CommandRunner = defaultRunner,
): Promise<{ xml?: string; error?: string }> {
  let last = '';
  for (const extra of [['--virttype', 'kvm'], []]) {
    try {
      const r = await runner(['virsh', '-c', uri, 'domcapabilities', ...extra], { timeoutMs: 20_000 });
      if (r.code === 0 && !r.timedOut) return { xml: r.stdout };
      last = r.timedOut ? 'virsh domcapabilities timed out' : (r.stderr || r.stdout).trim().split('\n')[0];
    } catch (e) {
      last = (e as Error).message;
    }
  }
  return { error: last };
}
