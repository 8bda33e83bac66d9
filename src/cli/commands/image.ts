// `kestrel image inspect`, registered on the shared `image` command (which also has the
// API's create/list/show/delete).
import type { Command } from 'commander';
import { stat } from 'node:fs/promises';
import { checkImage, INSPECTABLE_DISK_FORMATS, type InspectResult } from '../../images/inspect/index.js';
import { UserError } from '../user-error.js';

/** Where the command prints (tests pass their own: node:test reports through stdout). */
export interface ImageCommandOutput {
  write(text: string): void;
}

export function registerImageCommands(
  image: Command,
  output: ImageCommandOutput = { write: (t) => void process.stdout.write(t) },
): void {
  image
    .command('inspect')
    .description(
      'a safe `qemu-img info`: reads the headers itself, refuses hostile images (backing files, ' +
        'data files, VMDK extents, mislabelled formats), then asks qemu-img under resource limits',
    )
    .argument('<file>', 'the image file')
    .option(
      '--disk-format <fmt>',
      `the declared disk_format (${INSPECTABLE_DISK_FORMATS.join(', ')}); default: the detected one`,
    )
    .option('--max-virtual-size <bytes>', 'refuse a virtual size larger than this many bytes')
    .option('--json', 'print JSON')
    .action(async (file: string, opts: { diskFormat?: string; maxVirtualSize?: string; json?: boolean }) => {
      const result = await inspectCommand(file, opts);
      output.write(opts.json ? `${JSON.stringify(toJson(result))}\n` : toText(file, result));
      process.exitCode = result.safe ? 0 : 1;
    });
}

async function inspectCommand(
  file: string,
  opts: { diskFormat?: string; maxVirtualSize?: string },
): Promise<InspectResult> {
  let maxVirtualSize: number | undefined;
  if (opts.maxVirtualSize !== undefined) {
    maxVirtualSize = Number(opts.maxVirtualSize);
    if (!Number.isSafeInteger(maxVirtualSize) || maxVirtualSize <= 0) {
      throw new UserError(
        `--max-virtual-size must be a positive number of bytes, not "${opts.maxVirtualSize}"`,
        2,
      );
    }
  }
  try {
    const st = await stat(file);
    if (!st.isFile()) throw new UserError(`${file} is not a regular file; give the path of an image file`, 2);
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(
      `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}; check the path`,
      2,
    );
  }
  return checkImage(file, { declaredFormat: opts.diskFormat, maxVirtualSize });
}

export function toJson(r: InspectResult): Record<string, unknown> {
  return {
    format: r.format,
    virtual_size: r.virtualSize,
    actual_size: r.actualSize,
    safe: r.safe,
    findings: r.findings.map((f) => ({ code: f.code, message: f.message })),
    declared_format: r.declaredFormat,
    details: r.details,
  };
}

function toText(file: string, r: InspectResult): string {
  const lines = [
    `image: ${file}`,
    `file format: ${r.format}${r.declaredFormat !== r.format ? ` (declared ${r.declaredFormat})` : ''}`,
    `virtual size: ${r.virtualSize} bytes`,
    `disk size: ${r.actualSize} bytes`,
    ...Object.entries(r.details).map(([k, v]) => `${k}: ${String(v)}`),
    `safe: ${r.safe ? 'yes' : 'no'}`,
    ...r.findings.map((f) => `refused (${f.code}): ${f.message}`),
  ];
  return `${lines.join('\n')}\n`;
}
