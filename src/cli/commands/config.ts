// `kestrel config check|docs`: validate a configuration file; write the reference.
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { formatProblems, loadConfig, resolvedImagesType } from '../../config/index.js';
import { renderConfigDocs } from '../../config/docs.js';
import { UserError } from '../user-error.js';

export function registerConfigCommands(program: Command): void {
  const config = program
    .command('config')
    .description('check a configuration file; write the option reference');

  config
    .command('check')
    .description('validate a configuration file (exit 0 valid, 1 invalid, every problem listed)')
    .option(
      '--config <file>',
      'configuration file (default: $KESTREL_CONFIG, then /etc/kestrel/kestrel.conf)',
    )
    .action(async (opts: { config?: string }) => {
      const loaded = await loadConfig({ path: opts.config });
      const name = loaded.source ?? 'no configuration file (defaults)';
      if (loaded.warnings.length)
        process.stderr.write(`${prefixed('warning', formatProblems(loaded.warnings))}\n`);
      if (loaded.errors.length) {
        process.stderr.write(`${prefixed('error', formatProblems(loaded.errors))}\n`);
        const n = loaded.errors.length;
        throw new UserError(
          `${name}: invalid, ${n} error${n === 1 ? '' : 's'}; fix ${n === 1 ? 'it' : 'them'} and run \`kestrel config check\` again`,
        );
      }
      const c = loaded.config;
      const w = loaded.warnings.length;
      process.stdout.write(
        `${name}: valid (virt_type ${c.libvirt.virt_type}, images_type ${resolvedImagesType(c)}, cpu_mode ${c.libvirt.cpu_mode ?? 'default'}, ` +
          `instances_path ${c.DEFAULT.instances_path}; ${w} warning${w === 1 ? '' : 's'})\n`,
      );
    });

  config
    .command('docs')
    .description('write the configuration reference generated from the option schema')
    .option('--output <path>', 'where to write it (default: docs/configuration.md in the Kestrel tree)')
    .action(async (opts: { output?: string }) => {
      // src/cli/commands/ and dist/cli/commands/ are both three levels below the tree's root.
      const output = opts.output ?? fileURLToPath(new URL('../../../docs/configuration.md', import.meta.url));
      try {
        await writeFile(output, renderConfigDocs());
      } catch (e) {
        throw new UserError(
          `cannot write ${output}: ${(e as Error).message}; check that its directory exists and is writable`,
        );
      }
      process.stdout.write(`wrote ${output}\n`);
    });
}

function prefixed(kind: string, text: string): string {
  return text
    .split('\n')
    .map((l) => `${kind}: ${l}`)
    .join('\n');
}
