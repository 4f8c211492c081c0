// Folds each package's vitest JSON report into one line per package and a
// total, in the plain "N passed, N failed, N skipped" form.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

let passed = 0;
let failed = 0;
let skipped = 0;
let packages = 0;
for (const group of ['packages', 'apps']) {
  if (!existsSync(group)) continue;
  for (const name of readdirSync(group)) {
    const file = path.join(group, name, 'test-results.json');
    if (!existsSync(file)) continue;
    const report = JSON.parse(readFileSync(file, 'utf8'));
    packages++;
    const p = report.numPassedTests;
    // A file that fails to load counts once; failing tests already count their file.
    const f = report.numFailedTests || report.numFailedTestSuites || 0;
    const s = report.numPendingTests + report.numTodoTests;
    passed += p;
    failed += f;
    skipped += s;
    console.log(`${`${group}/${name}`.padEnd(28)} ${p} passed, ${f} failed, ${s} skipped`);
  }
}
const expected = ['packages', 'apps']
  .filter((group) => existsSync(group))
  .flatMap((group) =>
    readdirSync(group).filter((name) => existsSync(path.join(group, name, 'vitest.config.ts'))),
  );
if (packages < expected.length) {
  console.log(
    `only ${packages} of ${expected.length} packages wrote a test report: a test run did not finish`,
  );
  failed++;
}
console.log(`total: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
