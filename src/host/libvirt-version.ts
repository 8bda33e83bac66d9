// libvirt reachable, and the libvirt and QEMU versions against Nova's minimums (Nova's
// init_host raises "Nova requires libvirt version X or greater" below MIN_*, and warns below
// NEXT_MIN_*). Asked through Kestrel's own RPC client (src/libvirt/), as the driver asks them at
// start-up: no command-line client, no output to parse.
import { LibvirtClient, splitVersion, type HypervisorTarget } from '../libvirt/index.js';
import { check, type Check } from './types.js';

export type Version = [number, number, number];

export const MIN_LIBVIRT_VERSION: Version = [8, 0, 0];
export const NEXT_MIN_LIBVIRT_VERSION: Version = [10, 0, 0];
export const MIN_QEMU_VERSION: Version = [6, 2, 0];
export const NEXT_MIN_QEMU_VERSION: Version = [8, 2, 2];

export interface LibvirtVersions {
  reachable: boolean;
  /** Why libvirt could not be asked (the client's error), when not reachable. */
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

/** The part of the RPC client's HostApi the doctor asks (tests inject a fake). */
export interface LibvirtHostQuery {
  getLibVersion(): Promise<number>;
  getVersion(): Promise<number>;
  getType(): Promise<string>;
  getDomainCapabilities(target?: HypervisorTarget, flags?: number, timeoutMs?: number): Promise<string>;
}

/** An open connection the doctor asks its questions on, closed when it is done. */
export interface LibvirtSession {
  host: LibvirtHostQuery;
  close(): Promise<void>;
}

/** Opens a session to a libvirt URI: the doctor's seam for libvirt (tests, recorded hosts). */
export type LibvirtConnector = (uri: string) => Promise<LibvirtSession>;

// The first call after libvirtd starts probes QEMU (a few seconds); allow for it.
const FIRST_CALL_TIMEOUT_MS = 20_000;

/**
 * Kestrel's RPC client, without reconnecting: the doctor reports a daemon that is down (the
 * client's error names the socket and the fix) instead of waiting for it to come back.
 */
export const connectLibvirt: LibvirtConnector = (uri) =>
  LibvirtClient.connect({ uri, reconnect: false, callTimeoutMs: FIRST_CALL_TIMEOUT_MS });

/** libvirt's major*1e6 + minor*1e3 + micro as a Version. */
function toVersion(n: number): Version {
  const v = splitVersion(n);
  return [v.major, v.minor, v.micro];
}

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export async function readLibvirtVersions(host: LibvirtHostQuery): Promise<LibvirtVersions> {
  try {
    const [lib, hv, type] = await Promise.all([host.getLibVersion(), host.getVersion(), host.getType()]);
    // The hypervisor version is QEMU's only when the connection is to the QEMU driver.
    return { reachable: true, libvirt: toVersion(lib), qemu: type === 'QEMU' ? toVersion(hv) : undefined };
  } catch (e) {
    return { reachable: false, error: errorText(e) };
  }
}

const START_LIBVIRT =
  'Start the daemons: virtlogd -d, then libvirtd (under a subreaper: setsid tini -s -- /usr/sbin/libvirtd &), ' +
  'or run scripts/start-libvirt / npm run setup; then run kestrel doctor again';

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
  if (!have) return check(id, title, 'warn', `libvirt did not report a ${name} version`, null);
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

/** The domain capabilities XML, or an error text. Asks for KVM first (SEV needs KVM). */
export async function readDomainCapabilities(
  host: LibvirtHostQuery,
): Promise<{ xml?: string; error?: string }> {
  let last = '';
  for (const target of [{ virttype: 'kvm' }, {}]) {
    try {
      return { xml: await host.getDomainCapabilities(target, 0, FIRST_CALL_TIMEOUT_MS) };
    } catch (e) {
      last = errorText(e);
    }
  }
  return { error: last };
}

/** What the doctor learns from libvirt: the versions, and the domain capabilities if reachable. */
export async function askLibvirt(
  uri: string,
  connect: LibvirtConnector,
): Promise<{ versions: LibvirtVersions; caps?: { xml?: string; error?: string } }> {
  let session: LibvirtSession;
  try {
    session = await connect(uri);
  } catch (e) {
    return { versions: { reachable: false, error: errorText(e) } };
  }
  try {
    const versions = await readLibvirtVersions(session.host);
    if (!versions.reachable) return { versions };
    return { versions, caps: await readDomainCapabilities(session.host) };
  } finally {
    await session.close().catch(() => undefined);
  }
}
