/**
 * Keeps a queue's record in etcd in step with its attributes after `setQueueAttributes`.
 *
 * The leader's actor applies the change first (the queue record 'Q' replicates with the queue, so
 * every replica's copy has it once the reply is committed); then the leader writes the same
 * attributes into `/ferry/queues/<name>` with a compare-and-swap on the record's revision
 * (Coordinator.updateQueue), and only then answers the client. So an acknowledged change is in
 * both places: every node's cache (the watch) and whichever replica leads after a failover.
 *
 * Writes for one queue are chained in the order the actor answered, so the record ends with the
 * actor's last state. A failed compare-and-swap means the record moved (a failover, another write
 * landing first, or the cache not having seen this node's own last write yet): the writer waits for
 * the watch to bring the new revision and tries again, a bounded number of times. If the record
 * names another leader by then, the caller answers NotLeader (retryable: the new leader applies
 * the same change again — it is idempotent — and writes the record itself).
 */
import type { QueueAttributes } from '../../protocol/ops.js';
import type { QueueMeta } from './meta.js';

export interface AttributeRecordPorts {
  /** This node's id. */
  self: string;
  /** The cached record of a queue. */
  current(name: string): QueueMeta | undefined;
  /** Compare-and-swap against the cached revision; false when the record changed meanwhile. */
  update(meta: QueueMeta): Promise<boolean>;
}

export type AttributeWrite = 'written' | 'notLeader' | 'gone' | 'conflict';

const ATTEMPTS = 50;
const RETRY_MS = 50;

function sameAttributes(a: Partial<QueueAttributes>, b: Partial<QueueAttributes>): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) {
    if (JSON.stringify(a[k as keyof QueueAttributes]) !== JSON.stringify(b[k as keyof QueueAttributes])) return false;
  }
  return true;
}

export class AttributeRecords {
  readonly #ports: AttributeRecordPorts;
  readonly #chains = new Map<string, Promise<AttributeWrite>>();

  constructor(ports: AttributeRecordPorts) {
    this.#ports = ports;
  }

  /** Writes `attributes` (the actor's full set after the change) into queue `qid`'s record. */
  write(name: string, qid: string, attributes: QueueAttributes): Promise<AttributeWrite> {
    const previous = this.#chains.get(qid) ?? Promise.resolve<AttributeWrite>('written');
    const next = previous.then(() => this.#write(name, qid, attributes), () => this.#write(name, qid, attributes));
    this.#chains.set(qid, next);
    void next.finally(() => {
      if (this.#chains.get(qid) === next) this.#chains.delete(qid);
    });
    return next;
  }

  async #write(name: string, qid: string, attributes: QueueAttributes): Promise<AttributeWrite> {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const meta = this.#ports.current(name);
      if (meta === undefined || meta.id !== qid) return 'gone';
      if (meta.leader !== this.#ports.self) return 'notLeader';
      if (sameAttributes(meta.attributes, attributes)) return 'written';
      if (await this.#ports.update({ ...meta, attributes: { ...attributes } })) return 'written';
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
    return 'conflict';
  }
}
