// [database]: where Kestrel keeps its state. SQLite by default (all-in-one), PostgreSQL for
// several hosts. Nova's MySQL URLs are recognised but cannot be used (see the loader's rules).
import { group, str } from './option.js';

export const databaseGroup = group('database', "Kestrel's database.", {
  connection: str({
    default: 'sqlite:///$state_path/kestrel.sqlite',
    secret: true,
    help: 'Database URL: sqlite:////absolute/path.sqlite or postgresql://user:password@host/dbname.',
  }),
});
