// `kestrel doctor [--json] [--config FILE]`: every host check in the KVM guide, with the fix for
// each failure, and the virt_type Kestrel will use. Exit 0 when guests can run (even only under
// QEMU emulation), 1 when they cannot.
import type { Command } from 'commander';
import { formatProblems, loadConfig } from '../../config/index.js';
import { formatDoctorReport, runDoctor, type VirtTypeSetting } from '../../host/index.js';
import { qemuPaths } from '../../host/qemu-reach.js';
import { UserError } from '../user-error.js';

interface DoctorCliOptions {
  json?: boolean;
  config?: string;
  virtType?: string;
  hostRoot?: string;
  probe: boolean;
  libvirtUri?: string;
}

const VIRT_TYPES: readonly VirtTypeSetting[] = ['auto', 'kvm', 'qemu'];

export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description(
      'check this host the way the KVM guide tells an operator to, and say which virt_type Kestrel will use',
    )
    .option('--json', 'print the report as JSON')
    .option(
      '--config <file>',
      'configuration file for [libvirt] virt_type and connection_uri (default: $KESTREL_CONFIG, then /etc/kestrel/kestrel.conf)',
    )
    .option('--virt-type <type>', 'override [libvirt] virt_type: auto, kvm or qemu')
    .option('--libvirt-uri <uri>', 'override [libvirt] connection_uri (default qemu:///system)')
    .option('--host-root <dir>', 'read a recorded host from this directory instead of / (skips the probes)')
    .option('--no-probe', 'do not run the functional KVM probe')
    .action(async (opts: DoctorCliOptions) => {
      const loaded = await loadConfig({ path: opts.config });
      if (loaded.warnings.length) process.stderr.write(`${formatProblems(loaded.warnings)}\n`);
      if (loaded.errors.length) {
        process.stderr.write(`${formatProblems(loaded.errors)}\n`);
        throw new UserError(
          `${loaded.source ?? 'configuration'}: invalid; fix it (kestrel config check lists every problem) and run kestrel doctor again`,
        );
      }
      const virtTypeSetting = (opts.virtType ?? loaded.config.libvirt.virt_type) as VirtTypeSetting;
      if (!VIRT_TYPES.includes(virtTypeSetting)) {
        throw new UserError(`--virt-type ${opts.virtType}: not one of auto, kvm, qemu`);
      }
      const report = await runDoctor({
        virtTypeSetting,
        hostRoot: opts.hostRoot,
        libvirtUri: opts.libvirtUri ?? (loaded.config.libvirt.connection_uri || undefined),
        runProbe: opts.probe,
        numMemoryEncryptedGuests: loaded.config.libvirt.num_memory_encrypted_guests,
        qemuPaths: qemuPaths(loaded.config),
      });
      process.stdout.write(
        opts.json
          ? `${JSON.stringify({ virt_type: { value: report.virt_type.value, reason: report.virt_type.reason }, checks: report.checks, ok: report.ok }, null, 2)}\n`
          : formatDoctorReport(report),
      );
      process.exitCode = report.ok ? 0 : 1;
    });
}
