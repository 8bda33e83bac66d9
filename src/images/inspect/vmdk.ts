// VMDK: a hosted sparse extent ("KDMV", little-endian) with an embedded text descriptor, or a
// bare text descriptor file. Only monolithicSparse and streamOptimized are allowed, and the
// descriptor may hold exactly one extent: the file's own SPARSE extent. Any other extent (FLAT,
// a second file, a path) would make QEMU read another file on the host (CVE-2022-47951).
import { finding, type ByteSource, type Finding, type FormatProbe, type FormatReport } from './types.js';
import { quoted, startsWith, u64le } from './bytes.js';

export const VMDK_MAGIC = Buffer.from('KDMV', 'latin1');
const COWD_MAGIC = Buffer.from('COWD', 'latin1');
const HEADER_LENGTH = 512;
const MAX_DESCRIPTOR_BYTES = 1024 * 1024 - 1;
const GD_AT_END = 0xffffffffffffffffn;
export const VMDK_ALLOWED_CREATE_TYPES = ['monolithicSparse', 'streamOptimized'];

const TEXT_DESCRIPTOR_START = /^\s*#\s*Disk DescriptorFile/i;
const EXTENT_LINE = /^(RW|RDONLY|NOACCESS)\s+(\d+)\s+([A-Za-z]+)(?:\s+"([^"]*)"(?:\s+(\d+))?)?\s*$/;
const KEY_VALUE_LINE = /^([A-Za-z][A-Za-z0-9._]*)\s*=\s*(.*)$/;

export const probeVmdk: FormatProbe = async (src, head) => {
  if (startsWith(head, COWD_MAGIC)) {
    return report(
      0,
      [
        finding(
          'vmdk-create-type',
          'VMDK image is a legacy COWD (VMware 3) extent; only monolithicSparse and streamOptimized are allowed.',
        ),
      ],
      { createType: 'COWD' },
    );
  }
  if (startsWith(head, VMDK_MAGIC)) return probeSparse(src, head);
  const text = head.subarray(0, Math.min(head.length, 1024)).toString('latin1');
  if (TEXT_DESCRIPTOR_START.test(text)) return probeDescriptorFile(src);
  return null;
};

async function probeSparse(src: ByteSource, head: Buffer): Promise<FormatReport> {
  if (head.length < HEADER_LENGTH) {
    return report(
      0,
      [
        finding(
          'truncated-header',
          `VMDK sparse header is truncated: ${head.length} of ${HEADER_LENGTH} bytes.`,
        ),
      ],
      {},
    );
  }
  const findings: Finding[] = [];
  const version = head.readUInt32LE(4);
  const capacitySectors = u64le(head, 12);
  const descriptorOffset = u64le(head, 28);
  const descriptorSectors = u64le(head, 36);
  const gdOffset = head.readBigUInt64LE(56);
  const virtualSize = capacitySectors * 512;
  const details: Record<string, string | number | boolean> = { version };
  if (version < 1 || version > 3) {
    findings.push(finding('vmdk-descriptor', `VMDK sparse header version ${version} is not 1, 2 or 3.`));
    return report(virtualSize, findings, details);
  }
  let createType = 'monolithicSparse';
  if (descriptorOffset !== 0 || descriptorSectors !== 0) {
    const bytes = descriptorSectors * 512;
    if (descriptorOffset !== 1) {
      findings.push(
        finding(
          'vmdk-descriptor',
          `VMDK embedded descriptor is at sector ${descriptorOffset}, not right after the header (sector 1).`,
        ),
      );
    } else if (bytes > MAX_DESCRIPTOR_BYTES + 1 || bytes === 0) {
      findings.push(
        finding(
          'vmdk-descriptor',
          `VMDK embedded descriptor of ${bytes} bytes is empty or larger than 1 MiB.`,
        ),
      );
    } else {
      const raw = await src.read(512, bytes);
      if (raw.length < bytes) {
        findings.push(
          finding(
            'truncated-header',
            `VMDK embedded descriptor is truncated: ${raw.length} of ${bytes} bytes.`,
          ),
        );
      } else {
        const nul = raw.indexOf(0);
        const parsed = checkDescriptor(raw.subarray(0, nul === -1 ? raw.length : nul).toString('latin1'), {
          ownExtent: true,
          capacitySectors,
        });
        findings.push(...parsed.findings);
        createType = parsed.createType ?? createType;
      }
    }
  }
  details.createType = createType;
  if (gdOffset === GD_AT_END) findings.push(...(await checkFooter(src, head)));
  return report(virtualSize, findings, details);
}

async function probeDescriptorFile(src: ByteSource): Promise<FormatReport> {
  const findings: Finding[] = [];
  if (src.size > MAX_DESCRIPTOR_BYTES) {
    findings.push(finding('vmdk-descriptor', 'VMDK descriptor file is larger than 1 MiB.'));
    return report(0, findings, {});
  }
  const text = (await src.read(0, src.size)).toString('latin1');
  const parsed = checkDescriptor(text, { ownExtent: false, capacitySectors: 0 });
  findings.push(...parsed.findings);
  if (!parsed.findings.some((f) => f.code === 'vmdk-extent')) {
    findings.push(
      finding(
        'vmdk-extent',
        'VMDK descriptor file keeps its data in other files (its extents); only a self-contained monolithicSparse or streamOptimized image is allowed.',
      ),
    );
  }
  return report(parsed.sectors * 512, findings, {
    createType: parsed.createType ?? 'unknown',
    descriptorFile: true,
  });
}

/** Parses a descriptor; the file's own single SPARSE extent is the only extent allowed. */
export function checkDescriptor(
  text: string,
  opts: { ownExtent: boolean; capacitySectors: number },
): { createType?: string; sectors: number; findings: Finding[] } {
  const findings: Finding[] = [];
  let createType: string | undefined;
  const extents: { access: string; sectors: number; type: string; file?: string }[] = [];
  let badLine: string | undefined;
  let parent = false;
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const ext = EXTENT_LINE.exec(line);
    if (ext) {
      extents.push({ access: ext[1], sectors: Number(ext[2]), type: ext[3].toUpperCase(), file: ext[4] });
      continue;
    }
    const kv = KEY_VALUE_LINE.exec(line);
    if (kv) {
      const key = kv[1].toLowerCase();
      const value = kv[2].trim().replace(/^"(.*)"$/, '$1');
      if (key === 'createtype') createType = value;
      if (key === 'parentfilenamehint') parent = true;
      if (key === 'parentcid' && value.toLowerCase() !== 'ffffffff') parent = true;
      continue;
    }
    badLine ??= line;
  }
  if (badLine !== undefined) {
    findings.push(
      finding(
        'vmdk-descriptor',
        `VMDK descriptor has a line that is neither a setting nor an extent: ${quoted(badLine)}.`,
      ),
    );
  }
  const allowed = VMDK_ALLOWED_CREATE_TYPES.find((t) => t.toLowerCase() === createType?.toLowerCase());
  if (!allowed) {
    findings.push(
      finding(
        'vmdk-create-type',
        `VMDK createType ${createType === undefined ? '(missing)' : quoted(createType)} is not allowed; only monolithicSparse and streamOptimized are (vmdk_allowed_types).`,
      ),
    );
  }
  if (parent) {
    findings.push(
      finding(
        'vmdk-extent',
        'VMDK descriptor names a parent disk (parentCID/parentFileNameHint): it would read another file on the host.',
      ),
    );
  }
  if (extents.length === 0) {
    findings.push(finding('vmdk-extent', 'VMDK descriptor lists no extent.'));
  } else if (extents.length > 1) {
    findings.push(
      finding(
        'vmdk-extent',
        `VMDK descriptor lists ${extents.length} extents (${extents.map((e) => `${e.type} ${quoted(e.file ?? '')}`).join(', ')}); only the file's own single SPARSE extent is allowed.`,
      ),
    );
  } else if (opts.ownExtent) {
    const e = extents[0];
    if (e.type !== 'SPARSE') {
      findings.push(
        finding(
          'vmdk-extent',
          `VMDK extent type ${e.type} (file ${quoted(e.file ?? '')}) is not the file's own SPARSE extent.`,
        ),
      );
    } else if (e.file !== undefined && /[/\\]/.test(e.file)) {
      findings.push(
        finding(
          'vmdk-extent',
          `VMDK extent file name ${quoted(e.file)} is a path; only the file's own extent is allowed.`,
        ),
      );
    } else if (e.sectors !== opts.capacitySectors) {
      findings.push(
        finding(
          'vmdk-extent',
          `VMDK extent of ${e.sectors} sectors does not match the header's capacity of ${opts.capacitySectors}.`,
        ),
      );
    }
  }
  return { createType: allowed ?? createType, sectors: extents.reduce((s, e) => s + e.sectors, 0), findings };
}

/** streamOptimized with the grain directory at the end: the footer must repeat the header. */
async function checkFooter(src: ByteSource, head: Buffer): Promise<Finding[]> {
  if (src.size < 512 * 4)
    return [finding('vmdk-footer', 'VMDK stream has its grain directory at the end but no footer.')];
  const tail = await src.read(src.size - 1536, 1536);
  const marker = tail.subarray(0, 512);
  const footer = tail.subarray(512, 1024);
  const eos = tail.subarray(1024, 1536);
  const problems: string[] = [];
  if (marker.readUInt32LE(12) !== 3) problems.push('no footer marker');
  if (!startsWith(footer, VMDK_MAGIC)) problems.push('the footer has no KDMV signature');
  else {
    if (footer.readUInt32LE(4) !== head.readUInt32LE(4))
      problems.push('the footer version differs from the header');
    if (!footer.subarray(28, 44).equals(head.subarray(28, 44)))
      problems.push('the footer descriptor location differs from the header');
    if (footer.readBigUInt64LE(56) === GD_AT_END)
      problems.push('the footer does not say where the grain directory is');
  }
  if (eos.readUInt32LE(8) !== 0 || eos.readUInt32LE(12) !== 0) problems.push('no end-of-stream marker');
  return problems.length
    ? [finding('vmdk-footer', `VMDK stream footer is invalid: ${problems.join('; ')}.`)]
    : [];
}

function report(
  virtualSize: number,
  findings: Finding[],
  details: Record<string, string | number | boolean>,
): FormatReport {
  return { format: 'vmdk', virtualSize, findings, details };
}
