/**
 * Kafka headers are bytes; the bus's are strings. Converting every name and value of every record
 * costs a native call and a fresh string or Buffer each (8–10 headers per CloudEvent), and a fresh
 * string used as a property key must then be interned. But names repeat on every record, and many
 * values do too (`ce_type`, `ce_source`, `ce_specversion`, `content-type`), so both directions keep
 * the last conversion per header and reuse it when the input is the same. A header whose value
 * differs every time (`ce_id`, `ce_time`) stops being cached after a few misses in a row.
 */

/** Consecutive misses after which a header's value is no longer stored for reuse. */
const MAX_MISSES = 4;
/** Longest name or value kept (a large value is unlikely to repeat and costly to compare). */
const MAX_CACHED_BYTES = 128;
/** Distinct header names remembered by one encoder before it starts over (names chosen per message). */
const MAX_NAMES = 512;
/** Header positions remembered by one decoder. */
const MAX_POSITIONS = 64;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  const n = a.length;
  if (n !== b.length) return false;
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

class EncodedName {
  lastValue: string | undefined;
  lastBytes: Buffer | undefined;
  misses = 0;

  constructor(readonly bytes: Buffer) {}

  value(text: string): Buffer {
    if (text === this.lastValue) {
      this.misses = 0;
      return this.lastBytes!;
    }
    const bytes = Buffer.from(text);
    if (this.misses < MAX_MISSES && bytes.length <= MAX_CACHED_BYTES) {
      this.lastValue = text;
      this.lastBytes = bytes;
    }
    this.misses++;
    return bytes;
  }
}

/**
 * Headers of outgoing records. Buffers handed out are shared between records and never written
 * to: @platformatic/kafka copies them into the request.
 */
export class HeaderEncoder {
  private readonly names = new Map<string, EncodedName>();
  /** UTF-8 bytes of the names and values of the last `encode` call. */
  bytes = 0;

  encode(headers: Record<string, string>): Map<Buffer, Buffer> {
    const out = new Map<Buffer, Buffer>();
    let bytes = 0;
    for (const name in headers) {
      let slot = this.names.get(name);
      if (slot === undefined) {
        if (this.names.size >= MAX_NAMES) this.names.clear();
        slot = new EncodedName(Buffer.from(name));
        this.names.set(name, slot);
      }
      const value = slot.value(headers[name]!);
      bytes += slot.bytes.length + value.length;
      out.set(slot.bytes, value);
    }
    this.bytes = bytes;
    return out;
  }
}

/**
 * What was last read at one header position. Records of one producer carry their headers in one
 * order, so position i holds the same name record after record. Bytes kept here are copies: a
 * record's header bytes are views of a whole fetch response, which must not be kept alive.
 */
class ReadSlot {
  valueBytes: Buffer | undefined;
  value = '';
  misses = 0;

  constructor(
    readonly nameBytes: Buffer,
    readonly name: string,
  ) {}

  read(bytes: Buffer): string {
    const cached = this.valueBytes;
    if (cached !== undefined && sameBytes(cached, bytes)) {
      this.misses = 0;
      return this.value;
    }
    const text = bytes.toString();
    if (this.misses < MAX_MISSES && bytes.length <= MAX_CACHED_BYTES) {
      this.valueBytes = Buffer.from(bytes);
      this.value = text;
    }
    this.misses++;
    return text;
  }
}

/** Headers of received records, for one subscription. */
export class HeaderDecoder {
  private readonly slots: (ReadSlot | undefined)[] = [];

  /** The slot of the name at position `index` of a record's headers: `slot(i, name).read(value)`. */
  slot(index: number, nameBytes: Buffer): ReadSlot {
    const slot = this.slots[index];
    if (slot !== undefined && sameBytes(slot.nameBytes, nameBytes)) return slot;
    const fresh = new ReadSlot(Buffer.from(nameBytes), nameBytes.toString());
    // Only the first positions and short names are kept: odd records cannot grow this without bound.
    if (index < MAX_POSITIONS && nameBytes.length <= MAX_CACHED_BYTES) this.slots[index] = fresh;
    return fresh;
  }
}
