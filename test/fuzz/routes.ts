// Every route of a fastify app, from printRoutes() (the tree fastify keeps): path and methods.
import type { FastifyInstance } from 'fastify';

export interface RouteInfo {
  path: string;
  methods: string[];
}

/**
 * Parses `printRoutes({ commonPrefix: false })`: each line is a tree branch ("├── ", "└── ")
 * whose indentation (4 characters a level) gives its depth and whose label is one more piece
 * of the path, followed by the methods it answers, e.g. `│   ├── :id (GET, HEAD, PUT)`.
 */
export function parseRouteTree(tree: string): RouteInfo[] {
  const stack: string[] = [];
  const out = new Map<string, Set<string>>();
  for (const line of tree.split('\n')) {
    const m = /^([│ ]*)[├└]── (.*?)(?: \(([A-Z, ]+)\))?$/u.exec(line.replace(/\s+$/, ''));
    if (!m) continue;
    const depth = [...m[1]].length / 4;
    stack.length = depth;
    stack.push(m[2]);
    if (!m[3]) continue;
    const path = stack.join('');
    const set = out.get(path) ?? new Set<string>();
    for (const method of m[3].split(',').map((s) => s.trim())) set.add(method);
    out.set(path, set);
  }
  return [...out].map(([path, methods]) => ({ path, methods: [...methods].sort() }));
}

export async function routesOf(app: FastifyInstance): Promise<RouteInfo[]> {
  await app.ready();
  return parseRouteTree(app.printRoutes({ commonPrefix: false }));
}
