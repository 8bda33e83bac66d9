// SSH keypairs, per user.
import { type Db, nextCounter, nowIso } from './util.js';

export interface Keypair {
  id: number;
  userId: string;
  name: string;
  publicKey: string;
  fingerprint: string;
  type: string;
  createdAt: string;
}

export class KeypairRepo {
  constructor(private readonly db: Db) {}

  async create(k: Omit<Keypair, 'id' | 'createdAt'>): Promise<Keypair> {
    const kp: Keypair = { ...k, id: await nextCounter(this.db, 'keypair'), createdAt: nowIso() };
    await this.db
      .insertInto('keypairs')
      .values({
        id: kp.id,
        user_id: kp.userId,
        name: kp.name,
        public_key: kp.publicKey,
        fingerprint: kp.fingerprint,
        type: kp.type,
        created_at: kp.createdAt,
      })
      .execute();
    return kp;
  }

  async get(userId: string, name: string): Promise<Keypair | undefined> {
    const r = await this.db
      .selectFrom('keypairs')
      .selectAll()
      .where('user_id', '=', userId)
      .where('name', '=', name)
      .executeTakeFirst();
    return r && this.map(r);
  }

  async list(userId: string): Promise<Keypair[]> {
    const rows = await this.db
      .selectFrom('keypairs')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('name')
      .execute();
    return rows.map((r) => this.map(r));
  }

  async delete(userId: string, name: string): Promise<boolean> {
    const r = await this.db
      .deleteFrom('keypairs')
      .where('user_id', '=', userId)
      .where('name', '=', name)
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  private map(r: {
    id: number;
    user_id: string;
    name: string;
    public_key: string;
    fingerprint: string;
    type: string;
    created_at: string;
  }): Keypair {
    return {
      id: Number(r.id),
      userId: r.user_id,
      name: r.name,
      publicKey: r.public_key,
      fingerprint: r.fingerprint,
      type: r.type,
      createdAt: r.created_at,
    };
  }
}
