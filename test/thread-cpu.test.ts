// CPU by thread from /proc (src/common/thread-cpu.ts): the stat-line parser, the split of a
// process's CPU into thread roles, and thread ids read in real worker threads.
import t from 'tap';
import { Worker } from 'node:worker_threads';
import { cpuByRole, osThreadId, parseStat, processCpuSeconds, processThreads } from '../src/common/thread-cpu.js';

t.test('a stat line: the name may hold spaces and parentheses; utime + stime are fields 14 and 15, in ticks', async (t) => {
  const rest = 'S 1 2 3 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 1000 100000 10 18446744073709551615';
  t.same(parseStat(`4321 (node) ${rest}`), { name: 'node', seconds: 3 });
  t.same(parseStat(`4321 (a (b) c) ${rest}`), { name: 'a (b) c', seconds: 3 }, 'counted from the last closing parenthesis');
  t.equal(parseStat(''), undefined, 'empty');
  t.equal(parseStat('4321 node S 1 2'), undefined, 'no name in parentheses');
  t.equal(parseStat('4321 (node) S 1 2 3'), undefined, 'too few fields');
  t.equal(parseStat(`4321 (node) ${rest.replace(' 250 ', ' x ')}`), undefined, 'a time that is not a number');
});

t.test('roles by thread id, RocksDB by name, and the rest is other: the parts add up to the total', async (t) => {
  const threads = new Map([
    [10, { name: 'node', seconds: 2 }], [11, { name: 'node', seconds: 3 }], [12, { name: 'node', seconds: 0.5 }],
    [13, { name: 'rocksdb:low', seconds: 1 }], [14, { name: 'rocksdb:high', seconds: 0.25 }], [15, { name: 'node', seconds: 0.75 }],
  ]);
  const roles = new Map([[10, 'main'], [11, 'shard-0'], [12, 'syncer-0']]);
  t.same(cpuByRole(threads, roles, 9), new Map([['main', 2], ['shard-0', 3], ['syncer-0', 0.5], ['rocksdb', 1.25], ['other', 2.25]]),
    'other: thread 15 and 1.5 s of threads that ended');
  t.equal(cpuByRole(threads, roles, 6.5).get('other'), 0, 'never below zero when /proc rounding puts the parts above the total');
  t.same(cpuByRole(new Map(), new Map(), 1), new Map([['other', 1]]), 'no thread known: all of it is other');
});

t.test('on Linux: the main thread\'s id is the process id, a worker\'s is its own and listed with its CPU', { skip: process.platform !== 'linux' ? 'reads /proc' : false }, async (t) => {
  t.equal(osThreadId(), process.pid);
  const worker = new Worker(`
    const { parentPort } = require('node:worker_threads');
    const { readlinkSync } = require('node:fs');
    const end = Date.now() + 100;
    while (Date.now() < end); // 100 ms of CPU, 10 ticks
    parentPort.postMessage(Number(readlinkSync('/proc/thread-self').split('/').pop()));
    parentPort.once('message', () => process.exit(0));
  `, { eval: true });
  t.teardown(() => worker.terminate());
  const tid = await new Promise<number>((resolve) => worker.once('message', resolve));
  t.not(tid, process.pid, 'a thread of its own');
  const threads = processThreads()!;
  t.ok(threads.has(process.pid) && threads.has(tid), 'both listed in /proc/self/task');
  t.ok(threads.get(tid)!.seconds >= 0.05, `the worker's busy loop is its CPU (${threads.get(tid)!.seconds} s)`);
  const total = processCpuSeconds()!;
  t.ok(total >= [...threads.values()].reduce((a, b) => a + b.seconds, 0) - 0.1, 'the process total covers its threads');
  worker.postMessage('done');
  await new Promise((resolve) => worker.once('exit', resolve));
  t.notOk(processThreads()!.has(tid), 'an ended thread is no longer listed (its CPU stays in the process total)');
});
