// One HTTP/1.1 exchange over a raw socket, for requests no HTTP client would send (a garbage
// request line, a negative Content-Length, bytes HTTP forbids in a header): the status line,
// the headers and the body as JSON (undefined when the body is not JSON).
import { connect } from 'node:net';

export interface RawReply {
  status: number;
  head: string;
  body: unknown;
  text: string;
}

export function rawRequest(port: number, data: string | Buffer, waitMs = 3000): Promise<RawReply> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const done = () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const at = text.indexOf('\r\n\r\n');
      const head = at < 0 ? text : text.slice(0, at);
      // The first response only: after it the server may answer what followed on the same
      // connection (a kept-alive request, or the parser's 400 for the bytes after it).
      const length = /\r\ncontent-length: *(\d+)/i.exec(head);
      const after =
        at < 0 ? Buffer.alloc(0) : Buffer.concat(chunks).subarray(Buffer.byteLength(text.slice(0, at + 4)));
      const rest = (length ? after.subarray(0, Number(length[1])) : after).toString('utf8');
      let body: unknown;
      try {
        body = JSON.parse(rest);
      } catch {
        body = undefined;
      }
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), head, body, text: rest });
    };
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('error', () => undefined); // the server may reset after answering; the answer counts
    s.on('close', done);
    // Half-close after the request: the server answers what it read, then closes.
    s.end(data);
    setTimeout(() => s.destroy(), waitMs).unref();
  });
}
