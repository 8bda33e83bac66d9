// virConnectBaselineCPU (remote procedure 162) with EXPAND_FEATURES: a CPU model's own feature
// list from libvirt's CPU map, independent of what this host's hypervisor can run — what Nova
// uses to pick a custom model by traits (nova-facts §4.4). The client's façade has only the
// hypervisor variant (394, host-constrained), so the procedure is declared here from the
// client's XDR primitives.
// TODO(libvirt client): move to HostApi.baselineCpu() and drop this file.
import { procedures, type LibvirtClient, type ProcDef } from '../../libvirt/index.js';
import { Limits, xarray, xstr, xstruct, xuint } from '../../libvirt/xdr.js';

const connectBaselineCpu: ProcDef<{ xmlCPUs: string[]; flags: number }, { cpu: string }> = {
  name: 'CONNECT_BASELINE_CPU',
  prog: procedures.connectBaselineHypervisorCpu.prog,
  proc: 162,
  args: xstruct({ xmlCPUs: xarray(xstr, Limits.CPU_BASELINE_MAX), flags: xuint }),
  ret: xstruct({ cpu: xstr }),
};

export const BASELINE_EXPAND_FEATURES = 1;

export async function baselineCpu(
  client: LibvirtClient,
  cpuXmls: string[],
  flags = BASELINE_EXPAND_FEATURES,
): Promise<string> {
  return (await client.call(connectBaselineCpu, { xmlCPUs: cpuXmls, flags })).cpu;
}
