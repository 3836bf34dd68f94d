#!/usr/bin/env node
// `npm run gpu:bundle`: everything a bare GPU machine needs to run the model suites on webgpu and
// `npm run bench:gpu`, in `.gpu/` (git-ignored, under 64 MiB): a Node binary, the suites and the
// benchmark bundled with the library by esbuild, tfjs's wasm files, Dawn's `dawn.node` for Linux
// x64, and Debian's redis-server with its libraries. `.gl/` holds the Vulkan loader (see
// scripts/gpu/run.sh). Nothing here runs in `npm test`: CI has no GPU.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const HELP = `usage: npm run gpu:bundle [-- --node=PATH]

  Builds .gpu/ (the app, Node, Dawn, redis-server) and .gl/ (the Vulkan loader) for scripts/gpu/run.sh.
  --node=PATH   the Linux x64 Node binary to carry (default: Node 22 from \`npx -p node@22\`)
  -h, --help`;

const { values } = parseArgs({ options: { node: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
if (values.help) {
  console.log(HELP);
  process.exit(0);
}

const out = path.join(ROOT, '.gpu');
const app = path.join(out, 'app');
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', ...opts });
const step = (s) => console.log(`• ${s}`);

fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(app, { recursive: true });

// 1. The suites and the benchmark. `ignoreAnnotations`: tfjs's backends register themselves on
// import, which their package.json "sideEffects" lists would otherwise let esbuild drop.
step('bundling the model suites and bench:gpu with esbuild');
const esbuild = await import('esbuild');
for (const [entry, file] of [['scripts/gpu/test-entry.ts', 'test-gpu.cjs'], ['scripts/bench-gpu.ts', 'bench-gpu.cjs']]) {
  await esbuild.build({
    entryPoints: [path.join(ROOT, entry)],
    outfile: path.join(app, file),
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    external: ['webgpu'], // ESM that finds dawn.node beside itself: carried as a package below
    ignoreAnnotations: true,
    logLevel: 'error',
  });
}
const wasmDir = path.join(ROOT, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist');
for (const f of fs.readdirSync(wasmDir).filter((f) => f.endsWith('.wasm'))) fs.copyFileSync(path.join(wasmDir, f), path.join(app, f));

// 2. Dawn: the webgpu package's JavaScript and only the Linux x64 binary (the package is 132 MB).
step('fetching webgpu (Dawn) for linux-x64');
const tmp = fs.mkdtempSync(path.join(out, 'npm-'));
run('npm', ['pack', '--silent', 'webgpu@0.6.2'], { cwd: tmp });
const tgz = fs.readdirSync(tmp).find((f) => f.endsWith('.tgz'));
run('tar', ['-xzf', path.join(tmp, tgz), '-C', tmp]);
const pkg = path.join(app, 'node_modules', 'webgpu');
fs.mkdirSync(path.join(pkg, 'dist', 'linux-x64'), { recursive: true });
for (const f of ['package.json', 'index.js', 'LICENSE.md']) fs.copyFileSync(path.join(tmp, 'package', f), path.join(pkg, f));
run('xz', ['-T0', '-6', '-c', path.join(tmp, 'package', 'dist', 'linux-x64', 'dawn.node')], { stdio: ['ignore', fs.openSync(path.join(pkg, 'dist', 'linux-x64', 'dawn.node.xz'), 'w'), 'inherit'] });
fs.rmSync(tmp, { recursive: true, force: true });

// 3. Node: an official Linux x64 build (the GPU machine has none).
step('compressing a Node binary');
let node = values.node;
if (!node) {
  const prefix = run('npx', ['-y', '-p', 'node@22', 'node', '-p', 'process.execPath']).trim();
  node = prefix;
}
run('xz', ['-T0', '-6', '-c', node], { stdio: ['ignore', fs.openSync(path.join(out, 'node.xz'), 'w'), 'inherit'] });

// 4. Debian packages, unpacked there with dpkg -x: redis-server and its libraries in .gpu/debs,
// the Vulkan loader in .gl with the GL dispatch libraries (the device README's recipe): NVIDIA's Vulkan
// driver is libGLX_nvidia.so.0, which cannot load without libGLdispatch from libglvnd0, and the loader
// then reports 'Could not get vkCreateInstance ... Found no drivers'.
step('downloading Debian packages (redis-server, Vulkan loader)');
const apt = ['-oAPT::Architecture=amd64', '-oAPT::Architectures=amd64', '-oDir::State::Lists=/tmp/amd64'];
fs.mkdirSync('/tmp/amd64/partial', { recursive: true });
run('apt-get', [...apt, 'update', '-qq']);
const debs = path.join(out, 'debs');
fs.mkdirSync(debs);
run('apt-get', [...apt, 'download', 'redis-server', 'redis-tools', 'libjemalloc2', 'liblzf1', 'libssl3', 'libatomic1', 'libsystemd0', 'liblz4-1', 'libzstd1', 'liblzma5', 'libgcrypt20', 'libgpg-error0', 'libcap2'], { cwd: debs });
const gl = path.join(ROOT, '.gl');
fs.mkdirSync(gl, { recursive: true });
run('apt-get', [...apt, 'download', 'libvulkan1', 'libegl1', 'libglvnd0', 'libopengl0', 'libgl1', 'libglx0', 'libgles2'], { cwd: gl });

const size = (dir) => fs.readdirSync(dir, { recursive: true }).reduce((a, f) => a + (fs.statSync(path.join(dir, f)).isFile() ? fs.statSync(path.join(dir, f)).size : 0), 0);
const mib = (b) => `${(b / 2 ** 20).toFixed(1)} MiB`;
console.log(`.gpu: ${mib(size(out))}, .gl: ${mib(size(gl))} (the device carries at most 64 MiB with the working tree)`);
