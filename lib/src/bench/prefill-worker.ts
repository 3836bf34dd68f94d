/** One wasm process of the prefill benchmark: measures at the thread count it is sent, replies once. */
import { measureWasm, type WasmJob } from './prefill';

process.once('message', (job: WasmJob) => {
  measureWasm(job)
    .then((measurement) => process.send?.({ type: 'done', measurement }))
    .catch((err: Error) => process.send?.({ type: 'error', message: err.stack ?? err.message }));
});
