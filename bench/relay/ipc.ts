/**
 * Messages between a relay child process and the bench over the Node IPC
 * channel. The child reports its URL once listening, and on request its
 * memory after a forced garbage collection, so that the load generator's
 * own memory never counts against the relay.
 */

/** Memory of the relay process, in bytes, after two forced collections. */
export interface MemoryReport {
  readonly heapUsed: number;
  readonly external: number;
  readonly rss: number;
}

export type ChildMessage =
  | { readonly type: 'ready'; readonly url: string }
  | { readonly type: 'memory'; readonly memory: MemoryReport }
  /** CPU time (user + system) the child has used since it started, in µs. */
  | { readonly type: 'cpu'; readonly micros: number };

export type ParentMessage =
  | { readonly type: 'memory' }
  | { readonly type: 'cpu' }
  | { readonly type: 'close' };

/**
 * Handles the bench's requests in a relay child: `memory` with a report
 * after `global.gc()` (the child runs with `--expose-gc`), `cpu` with the
 * CPU time used so far, and `close` by calling `close` and exiting.
 */
export function serveParent(url: string, close: () => Promise<void>): void {
  const send = process.send?.bind(process);
  if (!send)
    throw new Error(
      'The relay child must be started with an IPC channel (fork).',
    );
  const gc = globalThis.gc;
  if (!gc) throw new Error('The relay child must run with --expose-gc.');
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'memory') {
      gc();
      gc();
      const usage = process.memoryUsage();
      const memory: MemoryReport = {
        heapUsed: usage.heapUsed,
        external: usage.external,
        rss: usage.rss,
      };
      send({ type: 'memory', memory } satisfies ChildMessage);
    } else if (message.type === 'cpu') {
      const usage = process.cpuUsage();
      send({
        type: 'cpu',
        micros: usage.user + usage.system,
      } satisfies ChildMessage);
    } else if (message.type === 'close') {
      void close().finally(() => process.exit(0));
    }
  });
  // The bench going away closes the channel; the child must not outlive it.
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', url } satisfies ChildMessage);
}
