/**
 * The cluster commands of the built `ferry` CLI (`queue move`, `node drain`, the cluster flags of `queue create`): bad arguments exit 2
 * with one `ferry: ...` line before anything connects; `--help` works. The commands against a real
 * cluster run in test/cluster-move.test.ts and test/cluster-drain.test.ts. Runs dist/ (build first).
 */
import t from 'tap';
import { ferry } from './helpers/cli.js';

/** A port nothing listens on (no broker runs in this test). */
const DEAD_URL = 'ws://127.0.0.1:9/ws';

const badFlags: [string[], string][] = [
  [['queue', 'move', 'q', '--to', 'bad id'], 'ferry: --to must be a node id of 1 to 64 of A-Z a-z 0-9 _ -, got "bad id"'],
  [['queue', 'move', 'q'], "ferry: required option '--to <node>' not specified"],
  [['node', 'drain', 'n/1'], 'ferry: node id must be a node id of 1 to 64 of A-Z a-z 0-9 _ -, got "n/1"'],
  [['node', 'drain', 'n1', '--wait', '0'], 'ferry: --wait must be an integer from 1 to 86400'],
  [['queue', 'create', 'q', '--acks', 'most'], 'ferry: --acks must be one of leader, quorum, all'],
  [['queue', 'create', 'q', '--partitions', '0'], 'ferry: --partitions must be an integer from 1 to 64'],
  [['queue', 'create', 'q', '--max-partitions', 'many'], 'ferry: --max-partitions must be an integer from 1 to 64'],
  [['queue', 'create', 'q', '--scale-by', 'mood'], 'ferry: --scale-by must be one of backlog, rate'],
  [['queue', 'create', 'q', '--scale-limit', '-5'], `ferry: --scale-limit must be an integer from 1 to ${Number.MAX_SAFE_INTEGER}`],
];

for (const [args, line] of badFlags) {
  const run = ferry([...args, '--url', DEAD_URL]);
  t.test(`ferry ${args.join(' ')} → exit 2`, async (t) => {
    const r = await run;
    t.equal(r.code, 2);
    t.equal(r.stderr, `${line}\n`, 'exactly one line');
    t.equal(r.stdout, '');
  });
}

for (const cmd of [['queue', 'move'], ['node'], ['node', 'drain']]) {
  const run = ferry([...cmd, '--help']);
  t.test(`ferry ${cmd.join(' ')} --help`, async (t) => {
    const r = await run;
    t.equal(r.code, 0);
    t.match(r.stdout, new RegExp(`^Usage: ferry ${cmd.join(' ')} `));
    // `node` lists its subcommands; the commands themselves take --url.
    if (cmd.length > 1) t.match(r.stdout, /--url <url>/);
  });
}
