/**
 * The container format is little-endian. The kernels read and write through typed-array views,
 * which use the host's byte order, so they are only correct on little-endian hosts (x86, ARM as
 * run by Node everywhere in practice). Encoding and decoding refuse to run elsewhere rather than
 * produce wrong bytes.
 */
import { UnsupportedFormatError } from '../runtime';

export const HOST_IS_LITTLE_ENDIAN: boolean = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function assertLittleEndianHost(): void {
  if (!HOST_IS_LITTLE_ENDIAN) {
    throw new UnsupportedFormatError({
      path: 'host byte order',
      expected: 'a little-endian host (typed-array views are host-endian)',
      received: 'a big-endian host',
      hint: 'kvcache-lab serde runs only on little-endian hosts.',
    });
  }
}
