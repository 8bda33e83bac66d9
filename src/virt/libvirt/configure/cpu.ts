// <cpu>: cpu_mode (host-model default, host-passthrough, custom, none), the custom model chosen
// by the flavor's and image's required traits, extra flags (+/-), topology.
import { VirtError } from '../../errors.js';
import type { CpuFeature, Domain, DomainCpu } from '../domain/types.js';
import { flagsForTraits, requiredTraits } from './cpu-traits.js';
import type { BuildContext, Configurator, CpuMode } from './context.js';

export const NESTED_FLAGS = ['vmx', 'svm'];

/** cpu_model_extra_flags → sorted <feature> policies (`-flag` disables, `+flag`/`flag` requires). */
export function extraFlagFeatures(flags: string[]): CpuFeature[] {
  const byName = new Map<string, CpuFeature>();
  for (const raw of flags) {
    const f = raw.trim().toLowerCase();
    if (!f) continue;
    const policy = f.startsWith('-') ? 'disable' : 'require';
    const name = f.replace(/^[+-]/, '');
    byName.set(name, { policy, name });
  }
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Sockets × cores × threads = vCPUs: the flavor's hw:cpu_* when they multiply out, else sockets. */
export function cpuTopology(vcpus: number, extraSpecs: Record<string, string>): DomainCpu['topology'] {
  const s = Number(extraSpecs['hw:cpu_sockets']);
  const c = Number(extraSpecs['hw:cpu_cores']);
  const t = Number(extraSpecs['hw:cpu_threads']);
  if ([s, c, t].every((n) => Number.isInteger(n) && n > 0) && s * c * t === vcpus) {
    return { sockets: s, cores: c, threads: t };
  }
  return { sockets: vcpus, cores: 1, threads: 1 };
}

/**
 * The first configured model whose expanded features cover every flag the required traits
 * ask for (Nova's _match_cpu_model_by_flags). Each model passed over is logged with why.
 */
export async function chooseCustomModel(ctx: BuildContext): Promise<string> {
  const models = ctx.policy.cpuModels;
  if (models.length === 0) {
    throw new VirtError('cpu-mode-invalid', 'cpu_mode=custom but no cpu_models are configured', {
      fix: 'set [libvirt] cpu_models to an ordered list of CPU models, oldest first',
    });
  }
  const traits = requiredTraits(ctx.spec.flavor.extraSpecs, ctx.spec.image.properties);
  const flags = flagsForTraits(traits);
  if (flags.length === 0) return models[0];
  const passedOver: string[] = [];
  for (const model of models) {
    const features = await ctx.host.cpuModelFeatures(model);
    if (!features) {
      passedOver.push(`${model}: the hypervisor cannot expand this model (baseline not supported)`);
      continue;
    }
    const have = new Set(features);
    const missing = flags.filter((f) => !have.has(f));
    if (missing.length === 0) {
      if (passedOver.length) ctx.log.info({ model, passedOver, flags }, 'CPU model chosen by traits');
      return model;
    }
    const why = `${model}: lacks ${missing.join(', ')}`;
    passedOver.push(why);
    ctx.log.debug({ model, missing }, 'CPU model passed over');
  }
  throw new VirtError(
    'cpu-no-model-for-traits',
    `no configured CPU model provides the required CPU traits ${traits.join(', ')} (flags ${flags.join(', ')})`,
    {
      fix: 'add a CPU model that has these features to [libvirt] cpu_models, or drop the trait from the flavor/image',
      details: `models tried, in order:\n  ${passedOver.join('\n  ')}`,
    },
  );
}

function effectiveMode(ctx: BuildContext): CpuMode {
  return ctx.policy.cpuMode ?? 'host-model';
}

/** Whether the guest sees vmx/svm: from the mode's features, then the extra flags' verdict. */
function exposesNested(base: string[], extra: CpuFeature[]): boolean {
  const on = new Set(base.filter((f) => NESTED_FLAGS.includes(f)));
  for (const f of extra) {
    if (!NESTED_FLAGS.includes(f.name)) continue;
    if (f.policy === 'disable' || f.policy === 'forbid') on.delete(f.name);
    else on.add(f.name);
  }
  return on.size > 0;
}

export const cpuConfigurator: Configurator = {
  name: 'cpu',
  async configure(ctx: BuildContext, dom: Domain): Promise<void> {
    const mode = effectiveMode(ctx);
    const features = extraFlagFeatures(ctx.policy.cpuExtraFlags);
    const topology = cpuTopology(ctx.spec.flavor.vcpus, ctx.spec.flavor.extraSpecs);
    let baseFeatures: string[] = [];
    switch (mode) {
      case 'none':
        // QEMU's default model (qemu64): only topology and the extra flags.
        dom.cpu = { match: 'exact', topology, features };
        break;
      case 'host-model':
      case 'host-passthrough':
        dom.cpu = { mode, match: 'exact', topology, features };
        baseFeatures = ctx.host.hostCpuFeatures;
        break;
      case 'custom': {
        const model = await chooseCustomModel(ctx);
        dom.cpu = { mode, match: 'exact', model, topology, features };
        baseFeatures = (await ctx.host.cpuModelFeatures(model)) ?? [];
        break;
      }
    }
    if (dom.metadata) dom.metadata.nestedVirt = exposesNested(baseFeatures, features);
  },
};
