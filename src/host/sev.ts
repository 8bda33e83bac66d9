// AMD SEV: the kernel side (kvm_amd parameters `sev`, `sev_es`; "1" or "Y",
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

/** Reads `<domainCapabilities><features><sev supported='yes'>…` from the domain capabilities XML. */
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

// ---- the host-capabilities seam the driver uses ------------------

/** Fetches libvirt's domain capabilities XML for one guest arch + machine type. */
export type DomainCapsFetcher = (arch: string, machine: string) => Promise<string>;

/** What the driver needs to know about SEV on this host, decided once. */
export interface SevHostSupport {
  /** The kernel has SEV on (kvm_amd sev = 1 or Y) and libvirt reports <sev supported='yes'>. */
  supported: boolean;
  /** SEV-ES as well (kvm_amd sev_es on and libvirt reports ES slots). */
  es: boolean;
  kernel: KernelSevFacts;
  /** The first (arch, machine type) whose domain capabilities report SEV, and its fields. */
  machine?: string;
  caps?: DomainCapsSev;
  /** Why SEV is off, for logs and doctor (undefined when supported). */
  reason?: string;
}

/**
 * Domain capabilities' <sev> element per (guest arch, machine type), each asked once and
 * memoised as Nova's host.py does (asking QEMU is slow). Only x86_64 is asked: SEV is AMD's.
 */
export class SevHostCapabilities {
  private readonly byTarget = new Map<string, Promise<DomainCapsSev>>();
  private support?: Promise<SevHostSupport>;
  private readonly warned = new Set<string>();

  constructor(
    private readonly fetchDomainCaps: DomainCapsFetcher,
    private readonly readKernel: () => Promise<KernelSevFacts> = () => readSev('/'),
  ) {}

  /** The <sev> feature for one arch + machine type (cached; a failed fetch is not cached). */
  forMachine(arch: string, machine: string): Promise<DomainCapsSev> {
    const key = `${arch}\0${machine}`;
    let p = this.byTarget.get(key);
    if (!p) {
      p = this.fetchDomainCaps(arch, machine).then(parseDomainCapsSev);
      this.byTarget.set(key, p);
      p.catch(() => this.byTarget.delete(key));
    }
    return p;
  }

  /**
   * Whether this host can run SEV guests. `machineTypes` maps alias → canonical name (from
   * getCapabilities); the arch's default machine type and every alias's canonical type are asked.
   */
  detect(
    arch: string,
    machineTypes: Record<string, string>,
    defaultMachine?: string,
  ): Promise<SevHostSupport> {
    this.support ??= this.detectOnce(arch, machineTypes, defaultMachine);
    return this.support;
  }

  /**
   * What the driver reports to placement: MEM_ENCRYPTION_CONTEXT slots and SEV traits. Each
   * capacity warning goes to `warn` once per process (hostStatus runs on every refresh).
   */
  async hostStatus(
    arch: string,
    machineTypes: Record<string, string>,
    defaultMachine: string | undefined,
    configuredSlots: number | null | undefined,
    warn: (message: string) => void = () => {},
  ): Promise<{ slots: number; traits: string[]; support: SevHostSupport }> {
    const support = await this.detect(arch, machineTypes, defaultMachine);
    const { total, warnings } = memEncryptionSlots(support, configuredSlots);
    for (const w of warnings) {
      if (!this.warned.has(w)) {
        this.warned.add(w);
        warn(w);
      }
    }
    return { slots: total, traits: sevTraits(support, total), support };
  }

  private async detectOnce(
    arch: string,
    machineTypes: Record<string, string>,
    defaultMachine?: string,
  ): Promise<SevHostSupport> {
    const kernel = await this.readKernel();
    if (arch !== 'x86_64')
      return { supported: false, es: false, kernel, reason: `guest arch ${arch} is not x86_64` };
    if (!kernel.sev) {
      const why = kernel.kvmAmd
        ? `/sys/module/kvm_amd/parameters/sev is ${kernel.sevValue} (not 1 or Y)`
        : 'kvm_amd is not loaded (no /sys/module/kvm_amd/parameters/sev)';
      return { supported: false, es: false, kernel, reason: why };
    }
    const wanted = new Set<string>();
    if (defaultMachine) wanted.add(machineTypes[defaultMachine] ?? defaultMachine);
    for (const [alias, canonical] of Object.entries(machineTypes))
      if (alias !== canonical) wanted.add(canonical);
    if (wanted.size === 0) wanted.add('q35');
    const errors: string[] = [];
    for (const machine of wanted) {
      try {
        const caps = await this.forMachine(arch, machine);
        if (caps.supported) {
          const es = kernel.sevEs && (caps.maxESGuests ?? 0) > 0;
          return { supported: true, es, kernel, machine, caps };
        }
      } catch (e) {
        errors.push(`${machine}: ${(e as Error).message}`);
      }
    }
    const asked = [...wanted].join(', ');
    return {
      supported: false,
      es: false,
      kernel,
      reason:
        `libvirt's domain capabilities for ${arch} (${asked}) do not report <sev supported='yes'>` +
        (errors.length ? `; errors: ${errors.join('; ')}` : ''),
    };
  }
}

/** Nova V's "unlimited" (db_const.MAX_INT), reported when neither the option nor libvirt bounds it. */
export const UNLIMITED_SLOTS = 2147483647;

/**
 * The MEM_ENCRYPTION_CONTEXT inventory total: 0 without SEV; else
 * `[libvirt] num_memory_encrypted_guests` when set, never above the hardware's maxGuests
 * (more would only fail at launch, Nova's 2023 behaviour); else the detected maxGuests.
 */
export function memEncryptionSlots(
  support: Pick<SevHostSupport, 'supported' | 'caps' | 'reason'>,
  configured: number | null | undefined,
): { total: number; warnings: string[] } {
  const warnings: string[] = [];
  if (!support.supported) {
    if (configured !== null && configured !== undefined && configured > 0) {
      warnings.push(
        `[libvirt] num_memory_encrypted_guests = ${configured} but this host cannot run SEV guests ` +
          `(${support.reason ?? 'SEV not detected'}); reporting 0 slots. Fix: enable SEV (BIOS, ` +
          '"options kvm_amd sev=1") or remove the option.',
      );
    }
    return { total: 0, warnings };
  }
  const max = support.caps?.maxGuests;
  if (configured !== null && configured !== undefined) {
    if (max !== undefined && configured > max) {
      warnings.push(
        `[libvirt] num_memory_encrypted_guests = ${configured} exceeds the ${max} SEV guests the hardware ` +
          `supports (libvirt maxGuests); reporting ${max}. Fix: set it to ${max} or less, or remove it.`,
      );
      return { total: max, warnings };
    }
    return { total: configured, warnings };
  }
  if (max !== undefined) return { total: max, warnings };
  warnings.push(
    'libvirt does not report the SEV slot count (no <maxGuests>); SEV guests are not limited and may fail at launch ' +
      'once the hardware runs out. Fix: set [libvirt] num_memory_encrypted_guests (e.g. 15 on first-generation EPYC).',
  );
  return { total: UNLIMITED_SLOTS, warnings };
}

/** Placement traits for SEV (HW_CPU_X86_AMD_SEV, and _SEV_ES when ES slots exist). */
export function sevTraits(support: Pick<SevHostSupport, 'supported' | 'es'>, slots: number): string[] {
  if (!support.supported || slots === 0) return [];
  return support.es ? ['HW_CPU_X86_AMD_SEV', 'HW_CPU_X86_AMD_SEV_ES'] : ['HW_CPU_X86_AMD_SEV'];
}

/** Slots used / total, as `kestrel doctor` and os-hypervisors show them. */
export function describeSevSlots(used: number, total: number): string {
  if (total === 0) return 'no SEV guest slots (SEV unavailable or disabled)';
  if (total === UNLIMITED_SLOTS) return `${used} SEV guest slots used (no limit known)`;
  return `${used} of ${total} SEV guest slots used (${total - used} free)`;
}

export function checkSevSlots(used: number, total: number): Check {
  const title = 'AMD SEV guest slots';
  if (total === 0) return check('sev.slots', title, 'skip', describeSevSlots(used, total), null);
  if (used >= total && total !== UNLIMITED_SLOTS) {
    return check(
      'sev.slots',
      title,
      'warn',
      describeSevSlots(used, total),
      'every memory-encryption slot is taken: new SEV guests need another SEV host or a stopped SEV guest deleted',
    );
  }
  return check('sev.slots', title, 'pass', describeSevSlots(used, total));
}

/**
 * `kestrel doctor`'s view of SEV capacity: the MEM_ENCRYPTION_CONTEXT total this host will
 * report and where it comes from (doctor has no database; os-hypervisors shows slots used).
 */
export function checkSevCapacity(
  kernel: KernelSevFacts,
  caps: DomainCapsSev | undefined,
  configured: number | null | undefined,
): Check {
  const title = 'AMD SEV guest slots';
  const supported = kernel.sev && caps?.supported === true;
  const reason = !kernel.sev ? 'the kernel has SEV off' : "libvirt does not report <sev supported='yes'>";
  const { total, warnings } = memEncryptionSlots({ supported, caps, reason }, configured);
  if (!supported) {
    return warnings.length
      ? check(
          'sev.slots',
          title,
          'warn',
          warnings[0],
          'remove [libvirt] num_memory_encrypted_guests or enable SEV',
        )
      : check('sev.slots', title, 'skip', `0 MEM_ENCRYPTION_CONTEXT slots (${reason})`, null);
  }
  const source =
    configured !== null && configured !== undefined && total === configured
      ? '[libvirt] num_memory_encrypted_guests'
      : caps?.maxGuests !== undefined
        ? "libvirt's maxGuests"
        : 'no limit known';
  const found = `${total === UNLIMITED_SLOTS ? 'unlimited' : total} MEM_ENCRYPTION_CONTEXT slots (${source}); used / total: os-hypervisors`;
  return warnings.length
    ? check('sev.slots', title, 'warn', found, warnings.join(' '))
    : check('sev.slots', title, 'pass', found);
}
