// `kestrel serve [--config FILE] [--driver libvirt|fake]`: the all-in-one service. It
// refuses to start on configuration errors (listing them) and on a host where the doctor
// says guests cannot run; SIGTERM/SIGINT stop it cleanly, and guests keep running.
import type { Command } from 'commander';
import { pino } from 'pino';
import { formatProblems, loadConfig, type KestrelConfig } from '../../config/index.js';
import { formatDoctorReport, runDoctor, type VirtTypeSetting } from '../../host/index.js';
import { redactPaths, type Logger } from '../../util/log.js';
import { textDestination, wantsText } from '../../util/log-format.js';
import type { HypervisorDriver } from '../../virt/driver.js';
import { FakeDriver } from '../../virt/fake/driver.js';
import { LibvirtDriver } from '../../virt/libvirt/driver.js';
import { startService } from '../../service/service.js';
import { cephSecretFromConfig } from '../../service/storage.js';
import { checkQemuCanReach, qemuPaths } from '../../host/qemu-reach.js';
import { UserError } from '../user-error.js';
import { redactTransportUrl } from '../../transport/url.js';
import { parseRole, roleProblems, type Role } from '../../service/roles.js';
import { startComputeRole } from '../../service/compute-role.js';
import { startConductor } from '../../service/conductor.js';

interface ServeCliOptions {
  config?: string;
  role: string;
  driver: string;
  probe: boolean;
}

async function makeDriver(
  kind: string,
  config: KestrelConfig,
  log: Logger,
  probe: boolean,
): Promise<{ driver: HypervisorDriver; virtType: string; reason: string }> {
  if (kind === 'fake') {
    return {
      driver: new FakeDriver({ log, bootMessage: 'GUEST-BOOTED' }),
      virtType: 'kvm',
      reason: 'fake driver: no hypervisor is used (guests exist only in memory)',
    };
  }
  if (kind !== 'libvirt') throw new UserError(`--driver ${kind}: use libvirt (default) or fake`);
  // QEMU runs as another user: a private state_path would fail every boot, so refuse now.
  const unreachable = await checkQemuCanReach(qemuPaths(config));
  if (unreachable) throw new UserError(unreachable.userMessage);
  const report = await runDoctor({
    virtTypeSetting: config.libvirt.virt_type as VirtTypeSetting,
    libvirtUri: config.libvirt.connection_uri || undefined,
    runProbe: probe,
  });
  if (!report.virt_type.usable || !report.ok) {
    process.stderr.write(`${formatDoctorReport(report)}\n`);
    throw new UserError(
      `this host cannot run guests with virt_type ${report.virt_type.value} (${report.virt_type.reason}); fix the failed checks above (kestrel doctor) and start again`,
    );
  }
  const driver = new LibvirtDriver({
    uri: config.libvirt.connection_uri || undefined,
    virtType: report.virt_type.value,
    cpuMode: (config.libvirt.cpu_mode || undefined) as never,
    cpuModels: config.libvirt.cpu_models,
    cpuModelExtraFlags: config.libvirt.cpu_model_extra_flags,
    machineTypes: config.libvirt.hw_machine_type as Record<string, string>,
    numMemoryEncryptedGuests: config.libvirt.num_memory_encrypted_guests,
    skipCpuCompareAtStartup: config.workarounds.skip_cpu_compare_at_startup,
    instancesPath: config.DEFAULT.instances_path,
    vnc: { enabled: config.vnc.enabled, listen: config.vnc.server_listen },
    rbdSecret: cephSecretFromConfig(config),
    log,
  });
  return { driver, virtType: report.virt_type.value, reason: report.virt_type.reason };
}

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description(
      'run Kestrel all-in-one: Identity v3, Compute v2.1, Image v2 and Networking v2.0 APIs, scheduler and compute agent',
    )
    .option(
      '--config <file>',
      'configuration file (default: $KESTREL_CONFIG, then /etc/kestrel/kestrel.conf)',
    )
    .option(
      '--role <role>',
      "all (APIs, scheduler and this host's agent in one process), controller (APIs, scheduler, the database; needs PostgreSQL and transport_url) or compute (this host's agent over transport_url, no database)",
      'all',
    )
    .option(
      '--driver <kind>',
      'hypervisor driver: libvirt, or fake (in memory, for trying the APIs)',
      'libvirt',
    )
    .option(
      '--no-probe',
      'skip the functional KVM probe of the doctor (virt_type auto then trusts static checks)',
    )
    .action(async (opts: ServeCliOptions) => {
      const loaded = await loadConfig({ path: opts.config });
      if (loaded.warnings.length) process.stderr.write(`${formatProblems(loaded.warnings)}\n`);
      if (loaded.errors.length) {
        process.stderr.write(`${formatProblems(loaded.errors)}\n`);
        throw new UserError(
          `${loaded.source ?? 'configuration'} is invalid (problems above); fix it (kestrel config check) and start again`,
        );
      }
      const config = loaded.config;
      let role: Role;
      try {
        role = parseRole(opts.role);
      } catch (e) {
        throw new UserError((e as Error).message);
      }
      const problems = roleProblems(role, config);
      if (problems.length) throw new UserError(problems.join('\n'));
      const log = pino(
        {
          name: 'kestrel',
          level: config.DEFAULT.debug ? 'debug' : (process.env.KESTREL_LOG_LEVEL ?? 'info'),
          redact: { paths: redactPaths, censor: '[redacted]' },
        },
        // Readable lines on a terminal, JSON lines into files and pipes ([DEFAULT] log_format).
        wantsText(config.DEFAULT.log_format, process.stderr)
          ? textDestination(process.stderr)
          : pino.destination(2),
      );
      const { driver, virtType, reason } = await makeDriver(opts.driver, config, log, opts.probe);
      try {
        await driver.init();
      } catch (e) {
        throw new UserError(`the ${opts.driver} driver cannot start: ${(e as Error).message}`);
      }
      if (role === 'compute') {
        await serveCompute(config, driver, log, `driver ${opts.driver}, virt_type ${virtType}: ${reason}`);
        return;
      }
      let svc;
      try {
        svc = await startService({ config, driver, logger: log });
      } catch (e) {
        await driver.close();
        throw new UserError((e as Error).message);
      }
      let conductor;
      if (role === 'controller') {
        try {
          conductor = await startConductor({ config, repos: svc.core.repos, logger: log });
        } catch (e) {
          await svc.stop();
          await driver.close();
          throw new UserError((e as Error).message);
        }
      }
      const e = svc.endpoints;
      const lines = [
        `Kestrel is serving on host ${config.DEFAULT.host} (driver ${opts.driver}, virt_type ${virtType}: ${reason})`,
        `  Identity v3   ${e.identity}`,
        `  Compute v2.1  ${e.compute}`,
        `  Image v2      ${e.image}`,
        ...(svc.consoleUrls.novnc ? [`  noVNC proxy   ${svc.consoleUrls.novnc}`] : []),
        ...(svc.consoleUrls.serial ? [`  Serial proxy  ${svc.consoleUrls.serial}`] : []),
        ...(e.network ? [`  Network v2.0  ${e.network}`] : []),
        `  Database      ${svc.db.description}`,
        `  State         ${svc.statePath}`,
        `  Storage       instance disks: images_type ${svc.storage.imagesType}; image data: ${svc.storage.imageStore.kind} store`,
        `  Credentials   ${svc.cloudsFile} (cloud "kestrel", mode 0600)${svc.firstStart ? `; admin password also in ${svc.passwordFile}` : ''}`,
      ];
      if (conductor)
        lines.push(
          `  Message bus   ${config.DEFAULT.transport_url ? redactTransportUrl(config.DEFAULT.transport_url) : ''} (role controller: compute hosts report here)`,
        );
      if (svc.demoImage) lines.push(`  Demo image    boot-sector (${svc.demoImage}), with flavor m1.nano`);
      lines.push(
        'Try:',
        `  export OS_CLIENT_CONFIG_FILE=${svc.cloudsFile} OS_CLOUD=kestrel`,
        '  openstack server create --image boot-sector --flavor m1.nano --wait vm1 && openstack console log show vm1',
        '  openstack console url show vm1   (--serial for the serial console)',
        'Stop with Ctrl-C or SIGTERM (guests keep running).',
      );
      process.stdout.write(`${lines.join('\n')}\n`);
      await waitForStopSignal(log);
      await conductor?.stop();
      await svc.stop();
      await driver.close();
      process.stdout.write('Kestrel stopped; guests keep running.\n');
    });
}

function waitForStopSignal(log: Logger): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'stopping');
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      resolve();
    };
    const onTerm = () => stop('SIGTERM');
    const onInt = () => stop('SIGINT');
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
  });
}

/** --role compute: this host's agent on the message bus, no database and no API. */
async function serveCompute(config: KestrelConfig, driver: HypervisorDriver, log: Logger, how: string) {
  let agent;
  try {
    agent = await startComputeRole({ config, driver, logger: log });
  } catch (e) {
    await driver.close();
    throw new UserError((e as Error).message);
  }
  process.stdout.write(
    [
      `Kestrel compute agent of host ${agent.host} (${how})`,
      `  Message bus   ${agent.transport}`,
      `  Heartbeat     every ${config.DEFAULT.report_interval} s (down after ${config.DEFAULT.service_down_time} s without one)`,
      'Stop with Ctrl-C or SIGTERM (guests keep running).',
      '',
    ].join('\n'),
  );
  await waitForStopSignal(log);
  await agent.stop();
  await driver.close();
  process.stdout.write('Kestrel compute agent stopped; guests keep running.\n');
}
