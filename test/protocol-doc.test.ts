/**
 * Keeps docs/protocol.md honest against the code: the ops it documents are exactly OP_NAMES, the
 * error codes in its table are exactly ErrorCodes, its queue attribute table lists exactly the
 * attributes (with their defaults), and every link to a heading of the page lands on one.
 */
import t from 'tap';
import type * as Tap from 'tap';
import { readFileSync } from 'node:fs';
import { ErrorCodes } from '../src/protocol/errors.js';
import { DEFAULT_QUEUE_ATTRIBUTES, OP_NAMES } from '../src/protocol/ops.js';
import { DEFAULT_PARTITIONING } from '../src/protocol/partitioning.js';
import { repoPath } from './helpers/paths.js';

const doc = readFileSync(repoPath('docs/protocol.md'), 'utf8');
/** Queue semantics (issue 3) are documented in their own page, which protocol.md links. */
const semantics = readFileSync(repoPath('docs/queue-semantics.md'), 'utf8');

/** Names protocol.md does not cover must be named (in backticks) in docs/queue-semantics.md. */
function coveredBySemantics(t: Tap.Test, missing: readonly string[], what: string): void {
  for (const name of missing) t.ok(new RegExp('`' + name + '[` ]').test(semantics), `${what} ${name} is documented in docs/queue-semantics.md`);
}

/** The body of the `## title` section, up to the next `## ` heading. */
function section(title: string): string {
  const lines = doc.split('\n');
  const start = lines.indexOf(`## ${title}`);
  if (start < 0) throw new Error(`docs/protocol.md has no "## ${title}" section`);
  const rest = lines.slice(start + 1);
  const end = rest.findIndex((l) => l.startsWith('## '));
  return (end < 0 ? rest : rest.slice(0, end)).join('\n');
}

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading.toLowerCase().replace(/[^a-z0-9 _-]/g, '').replace(/ /g, '-');
}

const sorted = (xs: Iterable<string>): string[] => [...xs].sort();

t.test('every op has its own section, and every op section is an op', async (t) => {
  const headings = [...section('Operations').matchAll(/^### ([A-Za-z]+)$/gm)].map((m) => m[1]!);
  t.same(sorted(headings.filter((h) => !(OP_NAMES as readonly string[]).includes(h))), [], 'every ### heading under "## Operations" is an op');
  coveredBySemantics(t, OP_NAMES.filter((op) => !headings.includes(op)), 'op');
});

t.test('the operations table lists every op once, and nothing else', async (t) => {
  const rows = [...section('Operations').matchAll(/^\| \[([A-Za-z]+)\]\(#([a-z]+)\) \|/gm)];
  const headings = [...section('Operations').matchAll(/^### ([A-Za-z]+)$/gm)].map((m) => m[1]!);
  t.same(sorted(rows.map((m) => m[1]!)), sorted(OP_NAMES.filter((op) => headings.includes(op))), 'one row per op section');
  for (const m of rows) t.equal(m[2], m[1]!.toLowerCase(), `the row of ${m[1]} links to its section`);
});

t.test('the error table lists every code of ErrorCodes once, and nothing else', async (t) => {
  const codes = [...section('Errors').matchAll(/^\| `([A-Za-z]+)` \|/gm)].map((m) => m[1]!);
  const all: string[] = Object.values(ErrorCodes);
  t.same(codes.filter((c) => !all.includes(c)), [], 'every listed code exists');
  coveredBySemantics(t, all.filter((c) => !codes.includes(c)), 'error code');
  t.equal(new Set(codes).size, codes.length, 'no code listed twice');
});

t.test('the queue attribute table lists every attribute with its default', async (t) => {
  const rows = [...section('Queue attributes').matchAll(/^\| `([A-Za-z]+)` \| [^|]+ \| ([0-9 ]+)(?: \([^)]*\))? \|/gm)];
  const names = rows.map((m) => m[1]!);
  t.same(names.filter((n) => !(n in DEFAULT_QUEUE_ATTRIBUTES)), [], 'every listed attribute exists');
  const semanticRows = new Set([...semantics.matchAll(/^\| `([A-Za-z]+)` +\|/gm)].map((m) => m[1]!));
  for (const name of Object.keys(DEFAULT_QUEUE_ATTRIBUTES).filter((n) => !names.includes(n))) {
    t.ok(semanticRows.has(name), `attribute ${name} has a row in docs/queue-semantics.md`);
  }
  for (const m of rows) {
    const name = m[1] as keyof typeof DEFAULT_QUEUE_ATTRIBUTES;
    t.equal(Number(m[2]!.replace(/ /g, '')), DEFAULT_QUEUE_ATTRIBUTES[name], `default of ${name}`);
  }
});

t.test('the partitioning table of createQueue lists every field with its default', async (t) => {
  // The table: the first block of `|` lines after the heading.
  const after = (section('Operations').split('#### partitioning')[1] ?? '').split('\n');
  const start = after.findIndex((l) => l.startsWith('|'));
  const end = after.findIndex((l, i) => i > start && !l.startsWith('|'));
  const part = after.slice(start, end).join('\n');
  const rows = [...part.matchAll(/^\| `([A-Za-z]+)` \| [^|]+ \| `?([A-Za-z0-9]+)`?[^|]* \|/gm)];
  t.same(sorted(rows.map((m) => m[1]!)), sorted(Object.keys(DEFAULT_PARTITIONING)), 'one row per field');
  for (const m of rows) t.equal(m[2], String(DEFAULT_PARTITIONING[m[1] as keyof typeof DEFAULT_PARTITIONING]), `default of ${m[1]}`);
});

t.test('every in-page link points at a heading', async (t) => {
  const anchors = new Set([...doc.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!)));
  const links = [...doc.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1]!);
  t.ok(links.length > 0, 'the page has in-page links');
  for (const link of new Set(links)) t.ok(anchors.has(link), `#${link} is a heading`);
});
