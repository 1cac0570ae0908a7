/**
 * Redrive tasks in a cluster. A task runs on the node that leads its dead-letter queue (startRedrive
 * is routed like any op on that queue), in that node's memory. Its id starts with the node's id
 * (`n2.3fa9…`), so `cancelRedrive` goes to the node that runs it, and `listRedrives` asks every
 * live node for its tasks. A node that dies takes its tasks with it (as a restart does on a single
 * node); a task whose queue's leadership moved away fails with a message that says so.
 */
import { ErrorCodes } from '../../protocol/errors.js';
import type { RedriveTask } from '../../protocol/ops.js';
import type { Answer } from '../shard-pool.js';

const SEPARATOR = '.';

/** The prefix of the task ids a node hands out. */
export function taskPrefix(nodeId: string): string {
  return nodeId + SEPARATOR;
}

/** The node that runs task `task`, if its id names one. */
export function taskNode(task: string): string | undefined {
  const i = task.indexOf(SEPARATOR);
  return i > 0 ? task.slice(0, i) : undefined;
}

export function noSuchTask(task: string): Answer {
  return { error: { code: ErrorCodes.InvalidField, message: `no redrive task ${task}`, field: 'task' } };
}

/**
 * Asks every node (`ask`) for its tasks and answers them all, oldest first. A node that cannot
 * answer is left out: its tasks ended with it.
 */
export function listEverywhere(nodes: readonly string[], ask: (node: string, done: (a: Answer) => void) => void, done: (a: Answer) => void): void {
  const tasks: RedriveTask[] = [];
  let waiting = nodes.length;
  if (waiting === 0) return done({ result: { tasks } });
  for (const node of nodes) {
    ask(node, (a) => {
      if ('result' in a) tasks.push(...(a.result as { tasks: RedriveTask[] }).tasks);
      if (--waiting === 0) done({ result: { tasks: tasks.sort((x, y) => x.startedAt - y.startedAt) } });
    });
  }
}
