// Nested guests: "your compute node must load the kvm_intel or kvm_amd module with nested=1".
import { isParamEnabled, readModuleParam } from './module-params.js';
import { check, type Check } from './types.js';

export interface NestedFacts {
  /** The module whose `nested` parameter exists, or undefined when neither is loaded. */
  module?: 'kvm_intel' | 'kvm_amd';
  /** The raw parameter text (Y, N, 1, 0). */
  value?: string;
  enabled: boolean;
}

export async function readNested(hostRoot = '/'): Promise<NestedFacts> {
  for (const module of ['kvm_intel', 'kvm_amd'] as const) {
    const value = await readModuleParam(hostRoot, module, 'nested');
    if (value !== undefined) return { module, value, enabled: isParamEnabled(value) };
  }
  return { enabled: false };
}

const NESTED_FIX =
  'To enable nested KVM guests, create /etc/modprobe.d/kvm.conf containing "options kvm_intel nested=1" ' +
  'and "options kvm_amd nested=1", then reload the module or reboot. Guests also need ' +
  '[libvirt] cpu_mode = host-passthrough, or host-model / custom with cpu_model_extra_flags = vmx (or svm).';

export function checkNested(n: NestedFacts): Check {
  const title = 'nested guests';
  if (!n.module) {
    return check(
      'kvm.nested',
      title,
      'skip',
      'neither kvm_intel nor kvm_amd is loaded, so there is no nested parameter',
      null,
    );
  }
  const found = `/sys/module/${n.module}/parameters/nested = ${n.value}`;
  return n.enabled
    ? check('kvm.nested', title, 'pass', found)
    : check('kvm.nested', title, 'warn', found, NESTED_FIX);
}
