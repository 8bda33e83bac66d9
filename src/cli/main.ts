// The `kestrel` command line. Each area registers its own subcommands (src/cli/commands/*.ts)
// so that this file stays a table of contents.
import { Command, CommanderError } from 'commander';
import { registerConfigCommands } from './commands/config.js';
import { registerDoctorCommand } from './commands/doctor.js';
import { registerServeCommand } from './commands/serve.js';
import { registerImageCommands } from './commands/image.js';
import { registerServiceCommands } from './commands/service.js';
import { registerIdentityCommands } from './commands/identity.js';
import { UserError } from './user-error.js';

export function buildProgram(): Command {
  const program = new Command('kestrel')
    .description('Kestrel: the KVM compute service of OpenStack Compute')
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride();
  registerConfigCommands(program);
  registerDoctorCommand(program);
  registerServeCommand(program);
  // `image` has subcommands from two areas: inspect (images) and create/list/… (service).
  const image = program
    .command('image')
    .description('inspect image files; manage images in the Image service');
  registerImageCommands(image);
  registerServiceCommands(program, image);
  registerIdentityCommands(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.exitCode;
    }
    if (e instanceof UserError) {
      process.stderr.write(`kestrel: ${e.message}\n`);
      return e.exitCode;
    }
    process.stderr.write(
      `kestrel: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
    );
    return 2;
  }
}

const code = await main(process.argv.slice(2));
process.exitCode = code;
