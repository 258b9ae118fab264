import { HeapgapError } from '../../errors.js';

/**
 * Parses a HotSpot hsperfdata file (/tmp/hsperfdata_<user>/<pid>), the shared memory the JVM
 * publishes its performance counters in (what jstat reads). Layout, from OpenJDK's perfMemory.hpp:
 * a 32-byte prologue (magic 0xcafec0c0, byte order, version, accessible flag, used, overflow,
 * modification time, offset of the first entry, number of entries), then entries that each start
 * with their length, the offset of their NUL-terminated name, a vector length, a type char
 * ('J' long, 'B' byte array = string), flags, units, variability and the offset of their data.
 */
export function parseHsperfdata(buf: Buffer, source = 'hsperfdata'): Record<string, number | string> {
  const bad = (what: string) => new HeapgapError('BAD_INPUT', `${source}: ${what}`);
  if (buf.length < 32) throw bad(`expected a 32-byte prologue, got ${buf.length} bytes`);
  if (buf.readUInt32BE(0) !== 0xcafec0c0) throw bad(`expected magic cafec0c0, got ${buf.subarray(0, 4).toString('hex')}`);
  const le = buf[4] === 1;
  const i32 = (at: number) => (le ? buf.readInt32LE(at) : buf.readInt32BE(at));
  const i64 = (at: number) => Number(le ? buf.readBigInt64LE(at) : buf.readBigInt64BE(at));
  const entryOffset = i32(24);
  const entries = i32(28);
  const out: Record<string, number | string> = {};
  let at = entryOffset;
  for (let n = 0; n < entries; n++) {
    if (at < 32 || at + 20 > buf.length) throw bad(`entry ${n} at ${at} lies outside the ${buf.length}-byte file`);
    const length = i32(at);
    const nameAt = at + i32(at + 4);
    const vectorLength = i32(at + 8);
    const type = String.fromCharCode(buf[at + 12]!);
    const dataAt = at + i32(at + 16);
    if (length <= 0 || at + length > buf.length) throw bad(`entry ${n} has length ${length}`);
    const nameEnd = buf.indexOf(0, nameAt);
    if (nameEnd < 0 || nameEnd > at + length) throw bad(`entry ${n} has no NUL-terminated name`);
    const name = buf.toString('latin1', nameAt, nameEnd);
    if (type === 'J' && vectorLength === 0 && dataAt + 8 <= at + length) out[name] = i64(dataAt);
    else if (type === 'B' && vectorLength > 0 && dataAt + vectorLength <= at + length) {
      const end = buf.indexOf(0, dataAt);
      out[name] = buf.toString('latin1', dataAt, end < 0 || end > dataAt + vectorLength ? dataAt + vectorLength : end);
    }
    at += length;
  }
  return out;
}
