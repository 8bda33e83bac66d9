// MBR and GPT inside a raw image. They do not change the format (raw); an odd partition table
// is noted, not refused, because raw has nothing for QEMU to follow.
import type { ByteSource } from './types.js';

export interface PartitionInfo {
  table: 'mbr' | 'gpt';
  notes: string[];
}

export async function probePartitionTable(src: ByteSource, head: Buffer): Promise<PartitionInfo | null> {
  if (head.length < 512 || head[510] !== 0x55 || head[511] !== 0xaa) return null;
  // A FAT volume boot record also ends in 55 AA: two FATs and media descriptor 0xF8.
  if (head[16] === 2 && head[21] === 0xf8) return null;
  const notes: string[] = [];
  const entries = [0, 1, 2, 3].map((i) => head.subarray(446 + i * 16, 446 + (i + 1) * 16));
  const defined = entries.filter((e) => e[4] !== 0);
  for (const [i, e] of entries.entries()) {
    if (e[0] !== 0x00 && e[0] !== 0x80)
      notes.push(`MBR partition ${i + 1} has boot flag 0x${e[0].toString(16)}`);
  }
  const protective = defined.find((e) => e[4] === 0xee);
  if (protective) {
    const sig = await src.read(512, 8);
    if (defined.length !== 1) notes.push('a protective GPT partition is not the only MBR partition');
    if (protective.readUInt32LE(8) !== 1) notes.push('the protective GPT partition does not start at LBA 1');
    if (sig.toString('latin1') !== 'EFI PART') notes.push('no GPT header ("EFI PART") at LBA 1');
    return { table: 'gpt', notes };
  }
  if (defined.length === 0) notes.push('the MBR defines no partition');
  return { table: 'mbr', notes };
}
