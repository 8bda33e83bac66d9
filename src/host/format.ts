// Human output of `kestrel doctor`: one aligned line per check with a ✓ / ! / ✗ / - marker, the
// fix under each check that is not a pass, then the virt_type decision.
import type { CheckStatus, DoctorReport } from './types.js';

const MARKERS: Record<CheckStatus, string> = { pass: '✓', warn: '!', fail: '✗', skip: '-' };

export function formatDoctorReport(report: DoctorReport, width = 100): string {
  const idWidth = Math.max(...report.checks.map((c) => c.id.length));
  const lines: string[] = [];
  for (const c of report.checks) {
    const indent = ' '.repeat(idWidth + 4);
    const [first, ...rest] = wrap(c.found, width - idWidth - 4);
    lines.push(`${MARKERS[c.status]} ${c.id.padEnd(idWidth)}  ${first ?? ''}`);
    for (const l of rest) lines.push(`${indent}${l}`);
    if (c.fix) {
      for (const l of wrap(`fix: ${c.fix}`, width - idWidth - 4)) lines.push(`${indent}${l}`);
    }
  }
  lines.push('');
  lines.push(`virt_type: ${report.virt_type.value}`);
  for (const l of wrap(`why: ${report.virt_type.reason}`, width - 2)) lines.push(`  ${l}`);
  lines.push(
    report.ok ? 'Guests can run on this host.' : 'Guests cannot run on this host: fix the ✗ checks above.',
  );
  return lines.join('\n') + '\n';
}

function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > Math.max(width, 40)) {
      out.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(line);
  return out;
}
