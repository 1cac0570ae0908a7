/**
 * Paths in the repository, from the tests' own location: tests run compiled, from dist/test
 * (`npm test` builds them: loading each file through a TypeScript loader cost ~1.6 s per test
 * file, ~3 minutes of CI), and this also resolves right from test/ under a TypeScript loader.
 */
import { fileURLToPath } from 'node:url';

const ROOT_URL = new URL(import.meta.url.includes('/dist/test/') ? '../../../' : '../../', import.meta.url);

/** The absolute path of `relative` (e.g. 'dist/loadtest/bench.js', 'docs/protocol.md') in the repository. */
export function repoPath(relative: string): string {
  return fileURLToPath(new URL(relative, ROOT_URL));
}
