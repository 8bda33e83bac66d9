// One serial console stream per guest, shared by every websocket attached to it (libvirt gives
// a console to one client at a time; a second FORCE open would close the first). Output goes
// to all sessions, any session's input goes to the guest; the stream is detached when the
// last session leaves, and every session is closed with the reason when the stream ends.
import type { Duplex } from 'node:stream';

export interface SerialSession {
  send(data: Buffer): void;
  close(code: number, reason: string): void;
}

interface Hub {
  stream: Duplex;
  sessions: Set<SerialSession>;
}

export class SerialHubs {
  private readonly hubs = new Map<string, Promise<Hub>>();

  /** Attaches a session to the guest's console, opening the stream with `open` if none is. */
  async attach(
    uuid: string,
    session: SerialSession,
    open: () => Promise<Duplex>,
  ): Promise<(data: Buffer) => void> {
    let p = this.hubs.get(uuid);
    if (!p) {
      p = open().then((stream) => this.start(uuid, stream));
      this.hubs.set(uuid, p);
      p.catch(() => this.hubs.delete(uuid));
    }
    const hub = await p;
    hub.sessions.add(session);
    return (data) => {
      if (!hub.stream.destroyed) hub.stream.write(data);
    };
  }

  detach(uuid: string, session: SerialSession): void {
    void this.hubs.get(uuid)?.then(
      (hub) => {
        hub.sessions.delete(session);
        if (hub.sessions.size === 0) this.end(uuid, hub);
      },
      () => undefined,
    );
  }

  get openStreams(): number {
    return this.hubs.size;
  }

  closeAll(reason: string): void {
    for (const [uuid, p] of this.hubs) {
      void p.then(
        (hub) => {
          for (const s of hub.sessions) s.close(1001, reason);
          this.end(uuid, hub);
        },
        () => undefined,
      );
    }
  }

  private start(uuid: string, stream: Duplex): Hub {
    const hub: Hub = { stream, sessions: new Set() };
    stream.on('data', (chunk: Buffer) => {
      for (const s of hub.sessions) s.send(chunk);
    });
    const ended = (why: string) => {
      if (this.hubs.get(uuid) === undefined) return;
      this.hubs.delete(uuid);
      for (const s of hub.sessions) s.close(1000, why);
      hub.sessions.clear();
    };
    stream.on('end', () => ended("the guest's console ended: the server stopped or was deleted"));
    stream.on('error', (e) => ended(`the guest's console failed: ${e.message}`.slice(0, 120)));
    return hub;
  }

  private end(uuid: string, hub: Hub): void {
    if (this.hubs.has(uuid)) this.hubs.delete(uuid);
    hub.stream.destroy();
  }
}
