// Marks the compiled CLI executable. tsc writes new files as 0644, and `npx herald` runs the
// file directly once npx's cache links it: npx sets the bit only when it first makes that
// link, so a later fresh build would answer "herald: Permission denied".
import { chmodSync } from 'node:fs';

chmodSync(new URL('../dist/src/cli/herald.js', import.meta.url), 0o755);
