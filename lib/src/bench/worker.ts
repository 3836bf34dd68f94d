/**
 * A benchmark worker process: receives its config and share of the stream over IPC, serves it with
 * its own model and connector, reports each record as it goes and all of them at the end.
 */
import { serveAll, type WorkerConfig } from './runner';
import type { ServeRequest } from '../engine/types';

// The parent is gone (killed, or it closed the channel): nobody will read the results, so stop.
process.once('disconnect', () => process.exit(0));

process.once('message', (msg: { config: WorkerConfig; requests: ServeRequest[] }) => {
  serveAll(msg.config, msg.requests, undefined, (record) => process.send?.({ type: 'record', record: { id: record.id } }))
    .then((result) => process.send?.({ type: 'done', ...result }))
    .catch((err: Error) => process.send?.({ type: 'error', message: err.message }));
});
