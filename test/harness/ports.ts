/** A free TCP port on loopback (the library's own helper: one implementation). */
export { freeLoopbackPort as freePort } from '../../lib/src/runtime/loopback-server';
