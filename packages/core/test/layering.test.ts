/**
 * The package layering, checked on the sources: hubs never import sync or
 * net, sync never imports net, nothing imports a hub package (the registry
 * loads hubs by name at run time), and core imports no other greenhub package.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const packagesDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Why `importer` (a folder under packages/) may not import `specifier`, or undefined if it may. */
function forbiddenImport(importer: string, specifier: string): string | undefined {
  if (!specifier.startsWith('@greenhub/')) return undefined;
  const target = specifier.slice('@greenhub/'.length).split('/')[0]!;
  if (importer === 'core') return 'core depends on no other greenhub package';
  if (target.startsWith('hub-')) {
    return 'nothing imports a hub package: the registry in core loads hubs by name at run time';
  }
  if (importer.startsWith('hub-') && (target === 'sync' || target === 'net')) {
    return 'a hub package never imports @greenhub/sync or @greenhub/net';
  }
  if (importer === 'sync' && target === 'net') return '@greenhub/sync never imports @greenhub/net';
  return undefined;
}

/** Module specifiers a TypeScript source imports, re-exports or requires. */
function importsOf(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const patterns = [
    /\b(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,$]+?\s+from\s+)?['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  const found: string[] = [];
  for (const pattern of patterns) {
    for (const match of code.matchAll(pattern)) found.push(match[1]!);
  }
  return found;
}

function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const files: string[] = [];
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules' || entry === 'dist') continue;
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) files.push(...sourceFiles(full));
    else if (/\.(?:m|c)?tsx?$/.test(entry) && !entry.endsWith('.d.ts')) files.push(full);
  }
  return files;
}

function packageFolders(): string[] {
  return readdirSync(packagesDir).filter((name) => existsSync(path.join(packagesDir, name, 'package.json')));
}

describe('package layering', () => {
  it('the rules catch what they are meant to catch', () => {
    expect(forbiddenImport('hub-pure', '@greenhub/sync')).toBeDefined();
    expect(forbiddenImport('hub-libev', '@greenhub/net')).toBeDefined();
    expect(forbiddenImport('sync', '@greenhub/net')).toBeDefined();
    expect(forbiddenImport('net', '@greenhub/hub-pure')).toBeDefined();
    expect(forbiddenImport('hub-libev', '@greenhub/hub-pure')).toBeDefined();
    expect(forbiddenImport('core', '@greenhub/sync')).toBeDefined();
    expect(forbiddenImport('core', '@greenhub/hub-libev')).toBeDefined();
    expect(forbiddenImport('hub-pure', '@greenhub/core')).toBeUndefined();
    expect(forbiddenImport('sync', '@greenhub/core')).toBeUndefined();
    expect(forbiddenImport('net', '@greenhub/sync')).toBeUndefined();
    expect(forbiddenImport('net', '@greenhub/core/conformance')).toBeUndefined();
    expect(
      importsOf(
        [
          "import { a } from '@greenhub/sync';",
          "import type { B } from '@greenhub/net';",
          "export * from './x.js';",
          "import '@greenhub/hub-libev';",
          "const m = await import('@greenhub/hub-pure');",
          "const r = require('node:fs');",
          '// import { c } from "@greenhub/commented-out";',
          "const name = '@greenhub/hub-' + hub;",
        ].join('\n'),
      ).sort(),
    ).toEqual([
      './x.js',
      '@greenhub/hub-libev',
      '@greenhub/hub-pure',
      '@greenhub/net',
      '@greenhub/sync',
      'node:fs',
    ]);
  });

  it('no package source imports a package its layer forbids', () => {
    const violations: string[] = [];
    let scanned = 0;
    for (const pkg of packageFolders()) {
      for (const file of sourceFiles(path.join(packagesDir, pkg, 'src'))) {
        scanned++;
        for (const specifier of importsOf(readFileSync(file, 'utf8'))) {
          const why = forbiddenImport(pkg, specifier);
          if (why) violations.push(`${path.relative(packagesDir, file)} imports '${specifier}': ${why}`);
        }
      }
    }
    expect(scanned).toBeGreaterThan(10);
    expect(violations).toEqual([]);
  });

  it('no package.json depends on a package its layer forbids', () => {
    const violations: string[] = [];
    for (const pkg of packageFolders()) {
      const file = path.join(packagesDir, pkg, 'package.json');
      const manifest = JSON.parse(readFileSync(file, 'utf8')) as Record<
        string,
        Record<string, string> | undefined
      >;
      for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
        for (const dependency of Object.keys(manifest[field] ?? {})) {
          const why = forbiddenImport(pkg, dependency);
          if (why) violations.push(`packages/${pkg}/package.json ${field} has '${dependency}': ${why}`);
        }
      }
    }
    expect(violations).toEqual([]);
  });
});
