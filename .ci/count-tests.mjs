#!/usr/bin/env node
// Counts tests from tap's own per-file results (.tap/test-results/**/*.tap): every top-level
// `ok` / `not ok` line of a file is one test (a `t.test(...)`); a file that produced no top-level
// result at all (it crashed before its first test) counts as one failed test.
// Prints the one plain line CI reads: `N passed, N failed`. Exits 1 when anything failed.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = process.argv[2] ?? '.tap/test-results';

function files(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else if (p.endsWith('.tap')) out.push(p);
  }
  return out;
}

let passed = 0;
let failed = 0;
const failures = [];
let list = [];
try {
  list = files(root);
} catch {
  // no results at all: counted below as a failure
}
for (const file of list) {
  const lines = readFileSync(file, 'utf8').split('\n');
  let results = 0;
  for (const line of lines) {
    if (line.startsWith('ok ')) {
      results++;
      passed++;
    } else if (line.startsWith('not ok ')) {
      results++;
      failed++;
      failures.push(`${file}: ${line}`);
    }
  }
  if (results === 0) {
    failed++;
    failures.push(`${file}: no test result (the file crashed or ran nothing)`);
  }
}
if (list.length === 0) {
  failed++;
  failures.push(`${root}: no result files`);
}
for (const f of failures) console.log(`FAILED ${f}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
