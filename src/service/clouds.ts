// <state_path>/clouds.yaml with a cloud named "kestrel", so that
//   OS_CLIENT_CONFIG_FILE=<state_path>/clouds.yaml openstack --os-cloud kestrel server list
// works at once. Written 0600: it holds the admin password.
import { chmodSync, writeFileSync, readFileSync, existsSync } from 'node:fs';

export interface CloudCredentials {
  authUrl: string;
  username: string;
  password: string;
  projectName: string;
  region: string;
}

/** YAML double-quoted scalar (JSON strings are valid YAML). */
const q = (s: string) => JSON.stringify(s);

export function cloudsYaml(c: CloudCredentials): string {
  return [
    '# Written by kestrel serve. Use: OS_CLIENT_CONFIG_FILE=<this file> openstack --os-cloud kestrel …',
    'clouds:',
    '  kestrel:',
    '    auth:',
    `      auth_url: ${q(c.authUrl)}`,
    `      username: ${q(c.username)}`,
    `      password: ${q(c.password)}`,
    `      project_name: ${q(c.projectName)}`,
    '      user_domain_name: "Default"',
    '      project_domain_name: "Default"',
    `    region_name: ${q(c.region)}`,
    '    identity_api_version: 3',
    '    interface: public',
    '',
  ].join('\n');
}

export function writeSecretFile(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** Reads the password back from a clouds.yaml written by cloudsYaml (for restarts). */
export function readCloudsPassword(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  const m = /^\s*password:\s*(".*")\s*$/m.exec(readFileSync(path, 'utf8'));
  try {
    return m ? (JSON.parse(m[1]) as string) : undefined;
  } catch {
    return undefined;
  }
}

/** Parses clouds.yaml files written by Kestrel or by hand (the subset the CLI needs). */
export function parseCloudsYaml(text: string, cloud: string): Partial<CloudCredentials> | undefined {
  const lines = text.split('\n');
  let inClouds = false;
  let inCloud = false;
  let cloudIndent = -1;
  const out: Partial<CloudCredentials> = {};
  const unq = (v: string) => {
    const t = v.trim();
    if (t.startsWith('"')) {
      try {
        return JSON.parse(t) as string;
      } catch {
        return t.slice(1, -1);
      }
    }
    if (t.startsWith("'")) return t.slice(1, -1).replace(/''/g, "'");
    return t;
  };
  for (const raw of lines) {
    if (/^\s*(#|$)/.test(raw)) continue;
    const indent = raw.length - raw.trimStart().length;
    const m = /^\s*([\w-]+):\s*(.*)$/.exec(raw);
    if (!m) continue;
    const [, key, value] = m;
    if (indent === 0) {
      inClouds = key === 'clouds';
      inCloud = false;
      continue;
    }
    if (!inClouds) continue;
    if (cloudIndent < 0 || indent <= cloudIndent) {
      cloudIndent = indent;
      inCloud = key === cloud;
      continue;
    }
    if (!inCloud || value === '') continue;
    switch (key) {
      case 'auth_url':
        out.authUrl = unq(value);
        break;
      case 'username':
        out.username = unq(value);
        break;
      case 'password':
        out.password = unq(value);
        break;
      case 'project_name':
        out.projectName = unq(value);
        break;
      case 'region_name':
        out.region = unq(value);
        break;
    }
  }
  return out.authUrl ? out : undefined;
}
