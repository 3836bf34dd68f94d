// Where Chromium (or Chrome) lives on the platforms the lab supports. The browser tests and the book
// check drive it with playwright-core, which never downloads a browser here. lib/src/notebook/png.ts
// keeps the same list (it cannot import scripts/); test/browser/chromium.test.ts checks they agree.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Executable names looked up on PATH, in order. */
export const CHROMIUM_COMMANDS = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable', 'chrome'];

/** Fixed install locations tried after PATH (Linux packages and snaps, macOS apps, Windows). */
export function chromiumLocations(home = os.homedir()) {
  return [
    '/usr/bin/chromium',
    '/usr/bin/chromium-browser',
    '/snap/bin/chromium',
    '/usr/bin/google-chrome',
    '/opt/google/chrome/chrome',
    '/Applications/Chromium.app/Contents/MacOS/Chromium',
    '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
    path.join(home, 'Applications', 'Chromium.app', 'Contents', 'MacOS', 'Chromium'),
    path.join(home, 'Applications', 'Google Chrome.app', 'Contents', 'MacOS', 'Google Chrome'),
    'C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe',
    'C:\\Program Files (x86)\\Google\\Chrome\\Application\\chrome.exe',
  ];
}

function onPath(command, envPath) {
  for (const dir of (envPath ?? '').split(path.delimiter)) {
    if (!dir) continue;
    for (const ext of process.platform === 'win32' ? ['.exe', ''] : ['']) {
      const candidate = path.join(dir, command + ext);
      try {
        fs.accessSync(candidate, fs.constants.X_OK);
        if (fs.statSync(candidate).isFile()) return candidate;
      } catch { /* not here */ }
    }
  }
  return undefined;
}

/**
 * The Chromium to drive: $KVLAB_CHROMIUM when set (used as given, even if missing, so that a typo is
 * reported rather than silently replaced), else the first of CHROMIUM_COMMANDS on PATH, else the first
 * existing location. `undefined` when there is none.
 */
export function findChromium({ env = process.env, home = os.homedir() } = {}) {
  if (env.KVLAB_CHROMIUM) return env.KVLAB_CHROMIUM;
  for (const command of CHROMIUM_COMMANDS) {
    const found = onPath(command, env.PATH);
    if (found) return found;
  }
  return chromiumLocations(home).find((p) => fs.existsSync(p));
}

/** The flags every headless run uses: no sandbox (CI runs as root), no network of its own. */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
