import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Installed version of an npm package, found by walking up from its entry point to its own
 * package.json (works for packages whose `exports` hide `package.json`). 'not installed' if absent.
 */
export function packageVersion(name: string): string {
  try {
    let dir = path.dirname(require.resolve(name));
    for (let i = 0; i < 6; i++) {
      const p = path.join(dir, 'package.json');
      if (fs.existsSync(p)) {
        const pkg = JSON.parse(fs.readFileSync(p, 'utf8')) as { name?: string; version?: string };
        if (pkg.name === name) return pkg.version ?? 'unknown';
      }
      dir = path.dirname(dir);
    }
    return 'unknown';
  } catch {
    return 'not installed';
  }
}

/** Version of kvcache-lab itself (lib/package.json), from source or from the build. */
export function libVersion(): string {
  try {
    return (JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}
