// Problems found in a configuration, and how they are shown to the operator.

export interface ConfigProblem {
  file?: string;
  line?: number;
  group?: string;
  option?: string;
  value?: string;
  message: string;
}

/** One problem as `file:line: [group] option = value: message`, leaving out the parts it lacks. */
export function formatProblem(p: ConfigProblem): string {
  const where = p.file
    ? p.line
      ? `${p.file}:${p.line}: `
      : `${p.file}: `
    : p.line
      ? `line ${p.line}: `
      : '';
  let what = p.group !== undefined ? `[${p.group}]` : '';
  if (p.option !== undefined) what += `${what ? ' ' : ''}${p.option}`;
  if (p.value !== undefined && p.option !== undefined) what += ` = ${p.value}`;
  return `${where}${what ? `${what}: ` : ''}${p.message}`;
}

export function formatProblems(problems: readonly ConfigProblem[]): string {
  return problems.map(formatProblem).join('\n');
}

/** How a secret value is shown: credentials in a URL are masked, anything else hidden. */
export function maskSecret(value: string): string {
  const url = /^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@]*@/i;
  return url.test(value) ? value.replace(url, '$1***@') : '(hidden)';
}
