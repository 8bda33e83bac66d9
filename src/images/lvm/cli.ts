// lvm2's commands, wrapped: argument arrays, JSON reports (`--reportformat json`) with sizes in
// bytes, an optional `--config` string on every call (tests turn activation off: this kind of
// machine has no device-mapper), and no fd-leak warnings on stderr.
import { runChecked, type RunResult } from '../../util/run.js';
import { ImageError } from '../errors.js';

export interface LvmCliOptions {
  /** An lvm.conf fragment passed as `--config` to every command (e.g. `global { activation=0 }`). */
  config?: string;
  /** Per-command timeout (default 60 s). */
  timeoutMs?: number;
}

export interface LvInfo {
  name: string;
  vg: string;
  sizeBytes: number;
  /** `pv:first-last` per segment (seg_pe_ranges); one entry for a linear one-segment LV. */
  peRanges: string;
}

interface LvsReport {
  report: { lv?: Record<string, string>[]; vg?: Record<string, string>[]; pv?: Record<string, string>[] }[];
}

/** VG and LV names lvm2 accepts, minus anything a path could abuse. */
const LVM_NAME = /^[A-Za-z0-9+_.][A-Za-z0-9+_.-]{0,126}$/;

export function assertLvmName(kind: 'volume group' | 'logical volume', name: string): void {
  if (!LVM_NAME.test(name) || name === '.' || name === '..') {
    throw new ImageError(
      'storage-misconfigured',
      `${kind} name ${JSON.stringify(name)} is not valid for lvm2 (letters, digits, + _ . -)`,
    );
  }
}

export class LvmCli {
  constructor(private readonly opts: LvmCliOptions = {}) {}

  run(cmd: string, args: readonly string[]): Promise<RunResult> {
    const argv = [cmd, ...(this.opts.config ? ['--config', this.opts.config] : []), ...args];
    return runChecked(argv, {
      timeoutMs: this.opts.timeoutMs ?? 60_000,
      env: { ...process.env, LVM_SUPPRESS_FD_WARNINGS: '1' },
    });
  }

  private async report(
    cmd: 'lvs' | 'vgs' | 'pvs',
    args: readonly string[],
  ): Promise<Record<string, string>[]> {
    const r = await this.run(cmd, ['--reportformat', 'json', '--units', 'b', '--nosuffix', ...args]);
    const parsed = JSON.parse(r.stdout) as LvsReport;
    const key = cmd.slice(0, 2) as 'lv' | 'vg' | 'pv';
    return parsed.report.flatMap((x) => x[key] ?? []);
  }

  async lvs(vg: string): Promise<LvInfo[]> {
    assertLvmName('volume group', vg);
    const rows = await this.report('lvs', ['-o', 'lv_name,vg_name,lv_size,seg_pe_ranges', vg]);
    return rows.map((r) => ({
      name: r.lv_name,
      vg: r.vg_name,
      sizeBytes: Number(r.lv_size),
      peRanges: r.seg_pe_ranges ?? '',
    }));
  }

  async vg(vg: string): Promise<{ sizeBytes: number; freeBytes: number; extentBytes: number }> {
    assertLvmName('volume group', vg);
    const [row] = await this.report('vgs', ['-o', 'vg_name,vg_size,vg_free,vg_extent_size', vg]);
    if (!row) throw new ImageError('storage-misconfigured', `volume group ${vg} not found`);
    return {
      sizeBytes: Number(row.vg_size),
      freeBytes: Number(row.vg_free),
      extentBytes: Number(row.vg_extent_size),
    };
  }

  /** Data offset of a PV (pe_start), for mapping extents to bytes. */
  async peStart(pv: string): Promise<number> {
    const [row] = await this.report('pvs', ['-o', 'pv_name,pe_start', pv]);
    if (!row) throw new ImageError('storage-misconfigured', `physical volume ${pv} not found`);
    return Number(row.pe_start);
  }

  async lvcreate(vg: string, lv: string, sizeBytes: number): Promise<void> {
    assertLvmName('volume group', vg);
    assertLvmName('logical volume', lv);
    // -y: wipe stale signatures without asking (there is no terminal).
    await this.run('lvcreate', ['-y', '-L', `${sizeBytes}b`, '-n', lv, vg]);
  }

  async lvremove(vg: string, lv: string): Promise<void> {
    assertLvmName('volume group', vg);
    assertLvmName('logical volume', lv);
    await this.run('lvremove', ['-y', `${vg}/${lv}`]);
  }
}
