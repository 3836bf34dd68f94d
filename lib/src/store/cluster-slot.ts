/** Hash slots of Redis Cluster. */
export const CLUSTER_SLOTS = 16384;

const TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let k = 0; k < 8; k++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
    t[i] = c;
  }
  return t;
})();

/** CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0), as Redis Cluster uses it. */
export function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (let i = 0; i < bytes.length; i++) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ bytes[i]!) & 0xff]!;
  return crc;
}

/**
 * The hash slot of a key: CRC16 of the key (or of its `{hashtag}`: the text between the first `{`
 * and the next `}`, when not empty) modulo 16384.
 */
export function keySlot(key: string | Buffer): number {
  const buf = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
  const open = buf.indexOf(0x7b); // {
  if (open >= 0) {
    const close = buf.indexOf(0x7d, open + 1); // }
    if (close > open + 1) return crc16(buf.subarray(open + 1, close)) % CLUSTER_SLOTS;
  }
  return crc16(buf) % CLUSTER_SLOTS;
}
