// Test helpers: the recorded hosts in test/fixtures/host/<name>/ (see the README there), and a
// fake libvirt for the doctor's libvirt seam (what Kestrel's RPC client would answer).
import { fileURLToPath } from 'node:url';
import type { HypervisorTarget } from '../libvirt/index.js';
import type { LibvirtConnector, LibvirtHostQuery } from './libvirt-version.js';

export function fixtureRoot(name: string): string {
  return fileURLToPath(new URL(`../../test/fixtures/host/${name}/`, import.meta.url));
}

export interface FakeLibvirtAnswers {
  /** libvirt's encoding, major*1e6 + minor*1e3 + micro (9.0.0 → 9000000), or an Error to throw. */
  libVersion?: number | Error;
  hvVersion?: number | Error;
  /** The hypervisor driver's name (default "QEMU"). */
  type?: string;
  /** The domain capabilities XML for a target, or an Error to throw. */
  domainCapabilities?: (target: HypervisorTarget) => string | Error;
  /** Thrown by connect (libvirtd down). */
  connectError?: Error;
}

/** A LibvirtConnector answering from fixed values; `calls` records what was asked, in order. */
export function fakeLibvirt(a: FakeLibvirtAnswers): LibvirtConnector & { calls: string[] } {
  const calls: string[] = [];
  const answer = <T>(name: string, value: T | Error | undefined): Promise<T> => {
    calls.push(name);
    if (value instanceof Error) return Promise.reject(value);
    if (value === undefined) return Promise.reject(new Error(`fake libvirt: no answer for ${name}`));
    return Promise.resolve(value);
  };
  const host: LibvirtHostQuery = {
    getLibVersion: () => answer('getLibVersion', a.libVersion),
    getVersion: () => answer('getVersion', a.hvVersion),
    getType: () => answer('getType', a.type ?? 'QEMU'),
    getDomainCapabilities: (target = {}) =>
      answer(`getDomainCapabilities(${target.virttype ?? ''})`, a.domainCapabilities?.(target)),
  };
  const connect: LibvirtConnector = (uri) => {
    calls.push(`connect(${uri})`);
    if (a.connectError) return Promise.reject(a.connectError);
    return Promise.resolve({ host, close: () => Promise.resolve(void calls.push('close')) });
  };
  return Object.assign(connect, { calls });
}
