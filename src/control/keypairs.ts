// Keypairs: import an OpenSSH public key, or generate one (the private key is returned once).
import { createHash, generateKeyPairSync } from 'node:crypto';
import type { Keypair, Repositories } from '../db/index.js';
import type { RequestContext } from './context.js';
import { badRequest, conflict, notFound } from '../errors/index.js';

const NAME = /^[\w\-. @]{1,255}$/;
const TYPES = new Set([
  'ssh-rsa',
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'ssh-dss',
]);

/** MD5 of the decoded key blob, as colon-separated hex (Nova's fingerprint). */
export function fingerprintOf(publicKey: string): string {
  const parts = publicKey.trim().split(/\s+/);
  if (parts.length < 2 || !TYPES.has(parts[0])) {
    throw badRequest(
      'Keypair data is invalid: expected an OpenSSH public key such as "ssh-ed25519 AAAA… comment".',
    );
  }
  const blob = Buffer.from(parts[1], 'base64');
  // The blob starts with the key type as an SSH string; a mismatch means it is not a key.
  const len = blob.length >= 4 ? blob.readUInt32BE(0) : -1;
  if (len <= 0 || blob.subarray(4, 4 + len).toString() !== parts[0]) {
    throw badRequest('Keypair data is invalid: the base64 part does not decode to a key of the stated type.');
  }
  return createHash('md5')
    .update(blob)
    .digest('hex')
    .replace(/(..)(?!$)/g, '$1:');
}

function sshString(b: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
}

function generate(comment: string): { publicKey: string; privateKey: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const blob = Buffer.concat([sshString(Buffer.from('ssh-ed25519')), sshString(raw)]);
  return {
    publicKey: `ssh-ed25519 ${blob.toString('base64')} ${comment}`,
    privateKey: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
  };
}

export class KeypairService {
  constructor(private readonly repos: Repositories) {}

  async create(
    ctx: RequestContext,
    name: string,
    publicKey?: string,
  ): Promise<Keypair & { privateKey?: string }> {
    if (!NAME.test(name) || name.trim() === '') {
      throw badRequest('Keypair names are 1 to 255 letters, digits, spaces, "_", "-", ".", "@".');
    }
    if (await this.repos.keypairs.get(ctx.userId, name)) throw conflict(`Key pair '${name}' already exists.`);
    let privateKey: string | undefined;
    let key = publicKey;
    if (key === undefined) {
      const g = generate(`Generated-by-Kestrel`);
      key = g.publicKey;
      privateKey = g.privateKey;
    }
    const fingerprint = fingerprintOf(key);
    try {
      const kp = await this.repos.keypairs.create({
        userId: ctx.userId,
        name,
        publicKey: key.trim(),
        fingerprint,
        type: 'ssh',
      });
      return privateKey ? { ...kp, privateKey } : kp;
    } catch (e) {
      if (/unique|duplicate/i.test(String((e as Error).message)))
        throw conflict(`Key pair '${name}' already exists.`);
      throw e;
    }
  }

  list(ctx: RequestContext): Promise<Keypair[]> {
    return this.repos.keypairs.list(ctx.userId);
  }

  async get(ctx: RequestContext, name: string): Promise<Keypair> {
    const k = await this.repos.keypairs.get(ctx.userId, name);
    if (!k) throw notFound(`Keypair ${name} not found for user ${ctx.userId}`);
    return k;
  }

  async delete(ctx: RequestContext, name: string): Promise<void> {
    if (!(await this.repos.keypairs.delete(ctx.userId, name))) {
      throw notFound(`Keypair ${name} not found for user ${ctx.userId}`);
    }
  }
}
