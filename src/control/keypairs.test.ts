// Generated keypairs as OpenSSH tools see them: ssh-keygen reads the private key and derives
// the same public key; the fingerprint is Nova's (MD5 of the key blob), as ssh-keygen -l -E md5
// prints it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runChecked } from '../util/run.js';
import { fingerprintOf, generateKeypair } from './keypairs.js';

test('a generated private key loads in ssh-keygen and gives back its public key and fingerprint', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kestrel-keypair-'));
  try {
    const { publicKey, privateKey } = generateKeypair('Generated-by-Kestrel');
    assert.match(privateKey, /^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
    const file = join(dir, 'key');
    writeFileSync(file, privateKey, { mode: 0o600 });
    const derived = await runChecked(['ssh-keygen', '-y', '-f', file]);
    assert.equal(
      derived.stdout.trim().split(' ').slice(0, 2).join(' '),
      publicKey.split(' ').slice(0, 2).join(' '),
    );
    writeFileSync(`${file}.pub`, `${publicKey}\n`);
    const md5 = await runChecked(['ssh-keygen', '-l', '-E', 'md5', '-f', `${file}.pub`]);
    assert.match(md5.stdout, new RegExp(`MD5:${fingerprintOf(publicKey)} `));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
