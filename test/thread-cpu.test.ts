// CPU by thread from /proc (src/common/thread-cpu.ts): the stat-line parser, thread roles by the
// names Ferry's threads give themselves, the split of a process's CPU into roles, and real worker
// threads naming themselves.
import t from 'tap';
import { Worker } from 'node:worker_threads';
import { cpuByRole, parseStat, processCpuByRole, processCpuSeconds, processThreads, shardThreadName, syncerThreadName, threadRole } from '../src/common/thread-cpu.js';

t.test('a stat line: the name may hold spaces and parentheses; utime + stime are fields 14 and 15, in ticks', async (t) => {
  const rest = 'S 1 2 3 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 1000 100000 10 18446744073709551615';
  t.same(parseStat(`4321 (node) ${rest}`), { name: 'node', seconds: 3 });
  t.same(parseStat(`4321 (a (b) c) ${rest}`), { name: 'a (b) c', seconds: 3 }, 'counted from the last closing parenthesis');
  t.equal(parseStat(''), undefined, 'empty');
  t.equal(parseStat('4321 node S 1 2'), undefined, 'no name in parentheses');
  t.equal(parseStat('4321 (node) S 1 2 3'), undefined, 'too few fields');
  t.equal(parseStat(`4321 (node) ${rest.replace(' 250 ', ' x ')}`), undefined, 'a time that is not a number');
});

t.test('roles: main by id, shards and syncers by the names they give themselves, RocksDB by its own', async (t) => {
  t.equal(threadRole(10, 10, 'node'), 'main', 'the thread whose id is the process id');
  t.equal(threadRole(10, 11, shardThreadName(3)), 'shard-3');
  t.equal(threadRole(10, 12, syncerThreadName(12)), 'syncer-12');
  t.ok(syncerThreadName(999).length <= 15 && shardThreadName(999).length <= 15, 'names fit the kernel\'s 15 bytes up to shard 999');
  t.equal(threadRole(10, 13, 'rocksdb:low'), 'rocksdb');
  t.equal(threadRole(10, 14, 'node'), undefined, 'V8 and libuv threads have no role');
  t.equal(threadRole(10, 15, 'ferry-shard-x'), undefined, 'a name that only looks like one');
});

t.test('the parts add up to the process total: what no role claims (threads that ended too) is other', async (t) => {
  const threads = new Map([
    [10, { name: 'node', seconds: 2 }], [11, { name: 'ferry-shard-0', seconds: 3 }], [12, { name: 'ferry-sync-0', seconds: 0.5 }],
    [13, { name: 'rocksdb:low', seconds: 1 }], [14, { name: 'rocksdb:high', seconds: 0.25 }], [15, { name: 'node', seconds: 0.75 }],
  ]);
  t.same(cpuByRole(10, threads, 9), new Map([['main', 2], ['shard-0', 3], ['syncer-0', 0.5], ['rocksdb', 1.25], ['other', 2.25]]),
    'other: thread 15 and 1.5 s of threads that ended');
  t.equal(cpuByRole(10, threads, 6.5).get('other'), 0, 'never below zero when /proc rounding puts the parts above the total');
  t.same(cpuByRole(10, new Map(), 1), new Map([['other', 1]]), 'no thread known: all of it is other');
});

t.test('on Linux: a worker names itself, and its CPU is its role\'s', { skip: process.platform !== 'linux' ? 'reads /proc' : false }, async (t) => {
  const worker = new Worker(`
    const { parentPort } = require('node:worker_threads');
    const { readlinkSync, writeFileSync } = require('node:fs');
    writeFileSync('/proc/thread-self/comm', ${JSON.stringify(shardThreadName(7))});
    const end = Date.now() + 100;
    while (Date.now() < end); // 100 ms of CPU, 10 ticks
    parentPort.postMessage(Number(readlinkSync('/proc/thread-self').split('/').pop()));
    parentPort.once('message', () => process.exit(0));
  `, { eval: true });
  t.teardown(() => worker.terminate());
  const tid = await new Promise<number>((resolve) => worker.once('message', resolve));
  t.not(tid, process.pid, 'a thread of its own');
  const threads = processThreads(process.pid)!;
  t.equal(threads.get(tid)?.name, 'ferry-shard-7', 'named in /proc/PID/task');
  const roles = processCpuByRole(process.pid)!;
  t.ok(roles.get('shard-7')! >= 0.05, `the worker's busy loop is its role's CPU (${roles.get('shard-7')} s)`);
  t.ok(roles.has('main') && roles.has('other'));
  t.ok(Math.abs([...roles.values()].reduce((a, b) => a + b, 0) - processCpuSeconds(process.pid)!) < 0.05, 'the roles add up to the process');
  worker.postMessage('done');
  await new Promise((resolve) => worker.once('exit', resolve));
  t.notOk(processThreads(process.pid)!.has(tid), 'an ended thread is no longer listed (its CPU stays in the process total, as other)');
});
