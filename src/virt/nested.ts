// KVM cannot suspend-and-resume or live-migrate a guest whose CPU exposes vmx/svm while it
// runs nested guests (the KVM guide's "nested guest support limitations"). Nova lets the
// operation fail late; Kestrel refuses it up front unless the operator opts out.
import { VirtError } from './errors.js';

/** The Kestrel option that turns the refusal off ([workarounds] allow_nested_suspend). */
export const ALLOW_NESTED_SUSPEND_OPTION = '[workarounds] allow_nested_suspend';

export function nestedConflict(uuid: string, operation: 'suspend' | 'live migration'): VirtError {
  return new VirtError(
    'nested-virt-conflict',
    `cannot ${operation === 'suspend' ? 'suspend' : 'live-migrate'} instance ${uuid}: its CPU exposes vmx/svm ` +
      `(nested virtualization), and KVM cannot ${operation === 'suspend' ? 'resume a suspended guest' : 'migrate a guest'} ` +
      'while nested guests run inside it',
    {
      fix:
        `stop the nested guests and power the instance off instead, or set ${ALLOW_NESTED_SUSPEND_OPTION} = true ` +
        'if you know no nested guests run',
    },
  );
}
