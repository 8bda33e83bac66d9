// A small client of Kestrel's (or any OpenStack's) Identity, Compute and Image APIs: password
// auth, endpoints from the token's catalog, JSON requests with OpenStack fault messages, and
// streamed image uploads with progress.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import type { Credentials } from './credentials.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

type Service = 'identity' | 'compute' | 'image';

interface CatalogEntry {
  type: string;
  endpoints: { interface: string; url: string; region?: string }[];
}

/** The message inside any OpenStack error body (Nova, Glance or Keystone shape). */
export function faultMessage(status: number, text: string): string {
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    if (typeof body.message === 'string') return body.message;
    for (const v of Object.values(body)) {
      if (v && typeof v === 'object' && typeof (v as { message?: unknown }).message === 'string') {
        return (v as { message: string }).message;
      }
    }
  } catch {
    // not JSON
  }
  return text.trim() || `HTTP ${status}`;
}

export class KestrelClient {
  private token?: string;
  private endpoints = new Map<Service, string>();

  constructor(private readonly creds: Credentials) {}

  async login(): Promise<void> {
    const url = `${this.creds.authUrl.replace(/\/+$/, '')}/auth/tokens`;
    let r: Response;
    try {
      r = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({
          auth: {
            identity: {
              methods: ['password'],
              password: {
                user: { name: this.creds.username, domain: { id: 'default' }, password: this.creds.password },
              },
            },
            scope: { project: { name: this.creds.projectName, domain: { id: 'default' } } },
          },
        }),
      });
    } catch (e) {
      throw new ApiError(
        0,
        `cannot reach the Identity API at ${this.creds.authUrl} (${(e as Error).cause ?? (e as Error).message}). Is kestrel serve running? Credentials from ${this.creds.source}.`,
      );
    }
    const text = await r.text();
    if (r.status !== 201) {
      throw new ApiError(
        r.status,
        `authentication failed (${r.status}): ${faultMessage(r.status, text)} — credentials from ${this.creds.source}`,
      );
    }
    this.token = r.headers.get('x-subject-token') ?? undefined;
    const catalog = (JSON.parse(text) as { token: { catalog?: CatalogEntry[] } }).token.catalog ?? [];
    for (const s of catalog) {
      const ep =
        s.endpoints.find(
          (e) => e.interface === 'public' && (!this.creds.region || e.region === this.creds.region),
        ) ?? s.endpoints[0];
      if (ep && (s.type === 'compute' || s.type === 'image' || s.type === 'identity')) {
        this.endpoints.set(s.type, ep.url.replace(/\/+$/, ''));
      }
    }
  }

  private url(service: Service, path: string): string {
    const base = this.endpoints.get(service);
    if (!base) throw new ApiError(0, `the service catalog has no ${service} endpoint`);
    return `${base}${path}`;
  }

  async call<T = unknown>(
    service: Service,
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<T> {
    if (!this.token) await this.login();
    const h: Record<string, string> = { accept: 'application/json', 'x-auth-token': this.token!, ...headers };
    let payload: string | undefined;
    if (body !== undefined) {
      payload = JSON.stringify(body);
      h['content-type'] ??= 'application/json';
    }
    const r = await fetch(this.url(service, path), { method, headers: h, body: payload });
    const text = await r.text();
    if (r.status >= 400) throw new ApiError(r.status, faultMessage(r.status, text));
    const location = r.headers.get('location');
    if (!text) return (location ? { location } : undefined) as T;
    return JSON.parse(text) as T;
  }

  /** PUT image data as a stream; onProgress gets the bytes sent so far. */
  async upload(
    imageId: string,
    data: Readable,
    size: number,
    onProgress?: (sent: number) => void,
  ): Promise<void> {
    if (!this.token) await this.login();
    const url = new URL(this.url('image', `/v2/images/${imageId}/file`));
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, {
      method: 'PUT',
      headers: {
        'content-type': 'application/octet-stream',
        'content-length': String(size),
        'x-auth-token': this.token!,
      },
    });
    let sent = 0;
    data.on('data', (chunk: Buffer) => {
      sent += chunk.length;
      onProgress?.(sent);
    });
    const done = new Promise<{ status: number; text: string }>((resolve, reject) => {
      req.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      data.on('error', reject);
    });
    data.pipe(req);
    const { status, text } = await done;
    if (status >= 400) throw new ApiError(status, faultMessage(status, text));
  }
}
