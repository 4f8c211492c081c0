#!/usr/bin/env node
// Builds the native addon if libev is present. Never fails: `npm install` of a
// workspace must not break because libev is missing; the loader reports it.
// --if-missing: do nothing when build/Release/hub_libev.node exists and is newer
// than binding.gyp and every file in src/native (so `npm run build` is cheap).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findLibev } from './libev-config.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const addon = join(root, 'build', 'Release', 'hub_libev.node');
const statusFile = join(root, 'build', 'status.txt');

function record(reason) {
  mkdirSync(join(root, 'build'), { recursive: true });
  writeFileSync(statusFile, `${reason}\n`);
}

function giveUp(reason) {
  record(reason);
  console.warn(
    `@greenhub/hub-libev: ${reason}; the libev hub is unavailable (use GREENHUB_HUB=pure, or install libev-dev and run npm rebuild @greenhub/hub-libev)`,
  );
  process.exit(0);
}

function upToDate() {
  if (!existsSync(addon)) return false;
  const built = statSync(addon).mtimeMs;
  const native = join(root, 'src', 'native');
  const sources = [join(root, 'binding.gyp'), ...readdirSync(native).map((f) => join(native, f))];
  return sources.every((f) => statSync(f).mtimeMs <= built);
}

if (process.argv.includes('--if-missing') && upToDate()) process.exit(0);

const libev = findLibev();
if (!libev)
  giveUp('native addon not built — libev headers were missing at install (no pkg-config libev, no ev.h)');

function nodeGypCommand() {
  try {
    return join(
      dirname(createRequire(import.meta.url).resolve('node-gyp/package.json')),
      'bin',
      'node-gyp.js',
    );
  } catch {
    return process.env.npm_config_node_gyp;
  }
}
const gyp = nodeGypCommand();
if (!gyp || !existsSync(gyp)) giveUp('native addon not built — node-gyp was not found');

// Use the headers installed beside this node when npm did not name any, so that
// no download is needed (node-gyp would otherwise fetch them).
const args = [gyp, 'rebuild'];
const prefix = join(dirname(process.execPath), '..');
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) {
  args.push(`--nodedir=${prefix}`);
}
const quiet = !process.argv.includes('--verbose');
if (quiet) args.push('--silent');
const result = spawnSync(process.execPath, args, {
  cwd: root,
  stdio: quiet ? ['ignore', 'pipe', 'pipe'] : 'inherit',
  encoding: 'utf8',
});
if (result.status !== 0 || !existsSync(addon)) {
  const log = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  if (log) writeFileSync(join(root, 'build-error.log'), log);
  giveUp(
    `native addon not built — compiling against libev (${libev.where}) failed${log ? ' (see build-error.log)' : ''}`,
  );
}
record('built');
