// Where an instance's root disk lives, as the disk backend created it: the one description the
// disk backends (src/images/backends) produce and the hypervisor driver (src/virt) consumes, so
// neither imports the other for it.
export type DiskSource =
  | { kind: 'file'; path: string; format: 'qcow2' | 'raw' }
  | { kind: 'block'; path: string }
  | {
      kind: 'rbd';
      pool: string;
      image: string;
      monitors: { host: string; port: number }[];
      user: string;
      secretUuid?: string;
    };
