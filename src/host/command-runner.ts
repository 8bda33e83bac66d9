// Probes that run programs take a CommandRunner so tests can replay recorded output.
import { run, type RunOptions, type RunResult } from '../util/run.js';

export type CommandRunner = (argv: readonly string[], opts?: RunOptions) => Promise<RunResult>;

export const defaultRunner: CommandRunner = run;
