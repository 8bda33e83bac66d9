// [compute]: which host CPUs guests may use, and how (nova/conf/compute.py).
import { parseCpuSet } from '../../util/cpuset.js';
import { group, str } from './option.js';

const cpuSet = (v: string): string | null => {
  try {
    parseCpuSet(v);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
};

export const computeGroup = group('compute', 'How the host CPUs are offered to guests.', {
  cpu_dedicated_set: str({
    default: null,
    check: cpuSet,
    help: 'Host CPUs for pinned vCPUs (hw:cpu_policy=dedicated or mixed), reported as the PCPU resource, e.g. 4-15. Unset: this host runs no pinned guests.',
    related: ['compute.cpu_shared_set'],
  }),
  cpu_shared_set: str({
    default: null,
    check: cpuSet,
    help: 'Host CPUs for floating vCPUs and emulator threads, reported as VCPU, e.g. 0-3. Unset: every CPU when cpu_dedicated_set is unset too, else none (the host then serves pinned guests only, as Nova).',
    related: ['compute.cpu_dedicated_set'],
  }),
});
