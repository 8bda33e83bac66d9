// AMD SEV: the kernel side (kvm_amd parameters `sev`, `sev_es`; nova-facts §6.3: "1" or "Y",
// newer kernels print Y) and libvirt's domain capabilities (`<features><sev supported='yes'>`).
import { XMLParser } from 'fast-xml-parser';
import { isParamEnabled, readModuleParam } from './module-params.js';
import { check, type Check } from './types.js';

export interface KernelSevFacts {
  /** kvm_amd is loaded (the sev parameter file exists). */
  kvmAmd: boolean;
  sevValue?: string;
  sevEsValue?: string;
  sev: boolean;
  sevEs: boolean;
}

export async function readSev(hostRoot = '/'): Promise<KernelSevFacts> {
  const sevValue = await readModuleParam(hostRoot, 'kvm_amd', 'sev');
  const sevEsValue = await readModuleParam(hostRoot, 'kvm_amd', 'sev_es');
  return {
    kvmAmd: sevValue !== undefined,
    sevValue,
    sevEsValue,
    sev: isParamEnabled(sevValue),
    sevEs: isParamEnabled(sevEsValue),
  };
}

export interface DomainCapsSev {
  supported: boolean;
  cbitpos?: number;
  reducedPhysBits?: number;
  maxGuests?: number;
  maxESGuests?: number;
}

/** Reads `<domainCapabilities><features><sev supported='yes'>…` from `virsh domcapabilities` XML. */
export function parseDomainCapsSev(xml: string): DomainCapsSev {
  const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@' });
  const doc = parser.parse(xml) as {
    domainCapabilities?: { features?: { sev?: Record<string, unknown> | string } };
  };
  const sev = doc.domainCapabilities?.features?.sev;
  if (!sev || typeof sev !== 'object') return { supported: false };
  const num = (k: string): number | undefined => {
    const v = sev[k];
    return v === undefined || v === '' ? undefined : Number(v);
  };
  return {
    supported: sev['@supported'] === 'yes',
    cbitpos: num('cbitpos'),
    reducedPhysBits: num('reducedPhysBits'),
    maxGuests: num('maxGuests'),
    maxESGuests: num('maxESGuests'),
  };
}

const SEV_FIX =
  'SEV needs AMD hardware capable of SEV with it enabled in the BIOS, and kernel >= 4.16, QEMU >= 2.12, ' +
  'libvirt >= 4.5 and OVMF; load the module with SEV on: "options kvm_amd sev=1" in ' +
  '/etc/modprobe.d/kvm.conf, then reload kvm_amd or reboot.';

export function checkKernelSev(s: KernelSevFacts, isAmd: boolean): Check[] {
  if (!s.kvmAmd) {
    const why = isAmd ? 'kvm_amd is not loaded' : 'not an AMD host (kvm_amd is not loaded)';
    return [
      check('sev.kernel', 'AMD SEV (kernel)', 'skip', why, isAmd ? SEV_FIX : null),
      check('sev.es', 'AMD SEV-ES (kernel)', 'skip', why, null),
    ];
  }
  const sev = `/sys/module/kvm_amd/parameters/sev = ${s.sevValue}`;
  const es =
    s.sevEsValue === undefined
      ? 'kvm_amd has no sev_es parameter'
      : `/sys/module/kvm_amd/parameters/sev_es = ${s.sevEsValue}`;
  return [
    s.sev
      ? check('sev.kernel', 'AMD SEV (kernel)', 'pass', sev)
      : check('sev.kernel', 'AMD SEV (kernel)', 'warn', sev, SEV_FIX),
    s.sevEs
      ? check('sev.es', 'AMD SEV-ES (kernel)', 'pass', es)
      : check(
          'sev.es',
          'AMD SEV-ES (kernel)',
          'warn',
          es,
          'SEV-ES needs SEV-ES capable hardware and a kernel with it enabled: "options kvm_amd sev=1 sev_es=1".',
        ),
  ];
}

export function checkLibvirtSev(caps: DomainCapsSev | undefined, error: string | undefined): Check {
  const title = 'AMD SEV (libvirt)';
  if (!caps) {
    return check(
      'sev.libvirt',
      title,
      'skip',
      `libvirt domain capabilities unavailable: ${error ?? 'not asked'}`,
      null,
    );
  }
  if (caps.supported) {
    const extra = [
      caps.cbitpos !== undefined ? `cbitpos ${caps.cbitpos}` : '',
      caps.reducedPhysBits !== undefined ? `reducedPhysBits ${caps.reducedPhysBits}` : '',
      caps.maxGuests !== undefined ? `maxGuests ${caps.maxGuests}` : '',
      caps.maxESGuests !== undefined ? `maxESGuests ${caps.maxESGuests}` : '',
    ].filter(Boolean);
    return check('sev.libvirt', title, 'pass', `<sev supported='yes'> ${extra.join(', ')}`.trim());
  }
  return check(
    'sev.libvirt',
    title,
    'warn',
    "domain capabilities do not report <sev supported='yes'>",
    SEV_FIX,
  );
}
