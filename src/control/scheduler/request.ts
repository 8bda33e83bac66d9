// The resource request of one boot, built from the flavor and the image as Nova's
// scheduler utils do: standard resources from the flavor, `resources:RC=N` overrides,
// MEM_ENCRYPTION_CONTEXT for encrypted memory, and required/forbidden traits from both.
import { badRequest } from '../../errors/index.js';
import { memEncryptionOn } from '../../rules/sev.js';
import {
  cpuResources,
  guestNumaRequest,
  NumaSpecError,
  type GuestNumaRequest,
} from '../../virt/numa/request.js';

export interface ResourceRequest {
  resources: Record<string, number>;
  required: string[];
  forbidden: string[];
  /** Guest NUMA cells, pinning and page size: placed on a host's cells in the claim. */
  numa?: GuestNumaRequest;
}

/** The guest NUMA request of a flavor and image, or a 400 naming the property to change. */
export function numaRequestOf(
  flavor: FlavorForRequest & { name?: string },
  imageProperties: Record<string, string>,
): GuestNumaRequest | undefined {
  try {
    return guestNumaRequest(flavor, imageProperties);
  } catch (e) {
    if (e instanceof NumaSpecError) throw badRequest(e.message);
    throw e;
  }
}

export interface FlavorForRequest {
  vcpus: number;
  memoryMb: number;
  rootGb: number;
  ephemeralGb: number;
  swapMb: number;
  extraSpecs: Record<string, string>;
}

export function buildResourceRequest(
  flavor: FlavorForRequest,
  imageProperties: Record<string, string>,
  imageSizeGb = 0,
): ResourceRequest {
  const numa = numaRequestOf(flavor, imageProperties);
  const cpus = cpuResources(flavor, numa);
  const resources: Record<string, number> = {
    VCPU: cpus.vcpu,
    PCPU: cpus.pcpu,
    MEMORY_MB: flavor.memoryMb,
    // root_gb 0 means "the image's size" (Nova), so the image's virtual size is claimed.
    DISK_GB: (flavor.rootGb || imageSizeGb) + flavor.ephemeralGb + Math.ceil(flavor.swapMb / 1024),
  };
  const required = new Set<string>();
  const forbidden = new Set<string>();
  const addTraits = (props: Record<string, string>, source: string) => {
    for (const [k, v] of Object.entries(props)) {
      if (!k.startsWith('trait:')) continue;
      const trait = k.slice('trait:'.length);
      if (v === 'required') required.add(trait);
      else if (v === 'forbidden') forbidden.add(trait);
      else throw badRequest(`${source} ${k}=${v}: a trait's value must be "required" or "forbidden".`);
    }
  };
  addTraits(flavor.extraSpecs, 'flavor extra spec');
  addTraits(imageProperties, 'image property');
  for (const [k, v] of Object.entries(flavor.extraSpecs)) {
    if (!k.startsWith('resources:')) continue;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) {
      throw badRequest(`flavor extra spec ${k}=${v}: the amount must be a whole number ≥ 0.`);
    }
    resources[k.slice('resources:'.length)] = n;
  }
  // The SEV rules (src/rules/sev.ts) refused a request whose words are not booleans already.
  if (memEncryptionOn(flavor.extraSpecs, imageProperties)) resources.MEM_ENCRYPTION_CONTEXT = 1;
  for (const t of required) {
    if (forbidden.has(t)) {
      throw badRequest(
        `trait ${t} is both required and forbidden (flavor and image disagree). Fix: remove one of trait:${t} from the flavor or the image.`,
      );
    }
  }
  for (const k of Object.keys(resources)) if (resources[k] === 0) delete resources[k];
  return {
    resources,
    required: [...required].sort(),
    forbidden: [...forbidden].sort(),
    ...(numa ? { numa } : {}),
  };
}
