// Test helper: the recorded hosts in test/fixtures/host/<name>/ (see the README there).
import { fileURLToPath } from 'node:url';

export function fixtureRoot(name: string): string {
  return fileURLToPath(new URL(`../../test/fixtures/host/${name}/`, import.meta.url));
}
