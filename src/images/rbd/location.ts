// Glance's RBD store location: `rbd://<cluster fsid>/<pool>/<image>/<snapshot>`, each part
// URL-quoted. Nova accepts exactly four parts (nova/image/glance.py rbd_download, and
// rbd_utils.parse_url for cloning); anything else is "Invalid RBD URL format".

export interface RbdLocation {
  fsid: string;
  pool: string;
  image: string;
  snapshot: string;
}

export class InvalidRbdUrlError extends Error {
  constructor(url: string, why: string) {
    super(
      `Invalid RBD URL format: ${JSON.stringify(url.slice(0, 200))} (${why}); expected rbd://<fsid>/<pool>/<image>/<snapshot>`,
    );
    this.name = 'InvalidRbdUrlError';
  }
}

/** Ceph names: no '/', '@' or NUL, not empty. Quoted names are unquoted first. */
const NAME = /^[^/@\0]+$/;

export function isRbdUrl(url: string): boolean {
  return url.toLowerCase().startsWith('rbd://');
}

export function parseRbdUrl(url: string): RbdLocation {
  if (!isRbdUrl(url)) throw new InvalidRbdUrlError(url, 'the scheme is not rbd');
  const rest = url.slice('rbd://'.length);
  const raw = rest.split('/');
  if (raw.length !== 4) throw new InvalidRbdUrlError(url, `it has ${raw.length} parts, not 4`);
  const parts = raw.map((p) => {
    let s: string;
    try {
      s = decodeURIComponent(p);
    } catch {
      throw new InvalidRbdUrlError(url, `part ${JSON.stringify(p)} is not valid URL quoting`);
    }
    if (!NAME.test(s) || s === '.' || s === '..') {
      throw new InvalidRbdUrlError(url, `part ${JSON.stringify(s)} is empty or holds '/', '@' or NUL`);
    }
    return s;
  });
  const [fsid, pool, image, snapshot] = parts;
  return { fsid, pool, image, snapshot };
}

export function formatRbdUrl(loc: RbdLocation): string {
  return `rbd://${[loc.fsid, loc.pool, loc.image, loc.snapshot].map(encodeURIComponent).join('/')}`;
}
