// The memory figures of the load-test harness: /proc parsing and the RSS slope (loadtest/memory.ts).
import t from 'tap';
import { memoryOf, memoryOfAll, parseOpenFilesLimit, parseProcStatus, slope } from '../loadtest/memory.js';

const STATUS = `Name:\tnode
Umask:\t0022
State:\tS (sleeping)
VmPeak:\t 3004940 kB
VmHWM:\t  421616 kB
VmRSS:\t  401268 kB
RssAnon:\t  390000 kB
Threads:\t17
`;

t.test('VmRSS and VmHWM from /proc/PID/status, in bytes', async (t) => {
  t.same(parseProcStatus(STATUS), { rssBytes: 401268 * 1024, hwmBytes: 421616 * 1024 });
  t.equal(parseProcStatus('Name:\tnode\nVmRSS:\t 1 kB\n'), undefined, 'no VmHWM: no figure');
  t.equal(parseProcStatus(''), undefined);
});

t.test('this process can be read, a process that does not exist cannot', async (t) => {
  const me = memoryOf(process.pid);
  t.ok(me !== undefined && me.rssBytes > 0 && me.hwmBytes >= me.rssBytes, 'own memory, peak >= now');
  t.equal(memoryOf(2 ** 22 + 12345), undefined);
  t.equal(memoryOfAll([]), undefined, 'no pid: no figure');
  t.equal(memoryOfAll([process.pid, 2 ** 22 + 12345]), undefined, 'one unreadable: no figure');
  t.ok(memoryOfAll([process.pid, process.pid])!.rssBytes > 1.5 * me!.rssBytes, 'summed over processes');
});

t.test('the soft open-files limit from /proc/PID/limits', async (t) => {
  const limits = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            20000                20000                files
`;
  t.equal(parseOpenFilesLimit(limits), 20000);
  t.equal(parseOpenFilesLimit(limits.replace('20000                20000', 'unlimited            unlimited')), Infinity);
  t.equal(parseOpenFilesLimit('nothing'), undefined);
});

t.test('least-squares slope of RSS over what is held', async (t) => {
  t.equal(slope([{ count: 0, rssBytes: 100 }, { count: 10, rssBytes: 300 }, { count: 20, rssBytes: 500 }]), 20);
  t.equal(slope([{ count: 5, rssBytes: 100 }]), undefined, 'one sample');
  t.equal(slope([{ count: 5, rssBytes: 100 }, { count: 5, rssBytes: 200 }]), undefined, 'no spread in count');
  const noisy = slope([{ count: 0, rssBytes: 0 }, { count: 1, rssBytes: 12 }, { count: 2, rssBytes: 18 }, { count: 3, rssBytes: 30 }])!;
  t.ok(noisy > 9 && noisy < 11, `noisy line: ${noisy}`);
});
