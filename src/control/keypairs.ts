// Keypairs: import an OpenSSH public key, or generate one (the private key is returned once).
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
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

function uint32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/**
 * The private key in OpenSSH's own format (openssh-key-v1, unencrypted), which `ssh -i` reads;
 * OpenSSH does not load an Ed25519 key from a PKCS#8 PEM file.
 */
function openSshPrivateKey(seed: Buffer, pub: Buffer, blob: Buffer, comment: string): string {
  const check = randomBytes(4);
  let secret = Buffer.concat([
    check,
    check,
    sshString(Buffer.from('ssh-ed25519')),
    sshString(pub),
    sshString(Buffer.concat([seed, pub])),
    sshString(Buffer.from(comment)),
  ]);
  const pad = (8 - (secret.length % 8)) % 8;
  secret = Buffer.concat([secret, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1))]);
  const body = Buffer.concat([
    Buffer.from('openssh-key-v1\0'),
    sshString(Buffer.from('none')),
    sshString(Buffer.from('none')),
    sshString(Buffer.alloc(0)),
    uint32(1),
    sshString(blob),
    sshString(secret),
  ]);
  const lines = body.toString('base64').match(/.{1,70}/g) ?? [];
  return ['-----BEGIN OPENSSH PRIVATE KEY-----', ...lines, '-----END OPENSSH PRIVATE KEY-----', ''].join(
    '\n',
  );
}

/** A new Ed25519 key: the public key line and the private key in OpenSSH format. */
export function generateKeypair(comment: string): { publicKey: string; privateKey: string } {
  const { privateKey } = generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' });
  const seed = Buffer.from(jwk.d!, 'base64url');
  const pub = Buffer.from(jwk.x!, 'base64url');
  const blob = Buffer.concat([sshString(Buffer.from('ssh-ed25519')), sshString(pub)]);
  return {
    publicKey: `ssh-ed25519 ${blob.toString('base64')} ${comment}`,
    privateKey: openSshPrivateKey(seed, pub, blob, comment),
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
      const g = generateKeypair(`Generated-by-Kestrel`);
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
