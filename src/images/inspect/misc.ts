// Formats Kestrel recognises only to name them: VDI (inspected for its size) and LUKS (refused:
// Kestrel holds no key for it). Recognising them keeps them from passing as raw.
import { finding, type FormatProbe } from './types.js';
import { startsWith, u64le } from './bytes.js';

const VDI_SIGNATURE = 0xbeda107f;
const LUKS_MAGIC = Buffer.from([0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe]);

export const probeVdi: FormatProbe = (_src, head) => {
  if (head.length < 0x44 || head.readUInt32LE(0x40) !== VDI_SIGNATURE) return Promise.resolve(null);
  if (head.length < 0x178) {
    return Promise.resolve({
      format: 'vdi',
      virtualSize: 0,
      findings: [finding('truncated-header', 'VDI header is truncated.')],
      details: {},
    });
  }
  return Promise.resolve({ format: 'vdi', virtualSize: u64le(head, 0x170), findings: [], details: {} });
};

export const probeLuks: FormatProbe = (_src, head) => {
  if (!startsWith(head, LUKS_MAGIC)) return Promise.resolve(null);
  return Promise.resolve({
    format: 'luks',
    virtualSize: 0,
    findings: [
      finding(
        'unsupported-format',
        'LUKS-encrypted images are not supported: Kestrel holds no key for them.',
      ),
    ],
    details: {},
  });
};
