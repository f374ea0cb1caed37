/**
 * Decode PostgreSQL's `encode(bytea, 'escape')` text back to the bytes. The relay reads bodies in this
 * form because, for the mostly-ASCII bodies events are (JSON), it is the cheapest text a bytea can
 * travel as: PostgreSQL copies ASCII bytes as they are (hex doubles the size, base64 adds a third and
 * costs the server more per byte), and the relay's side is a latin1 copy. Bytes 0x00 and 0x80–0xFF come
 * as `\ooo` (three octal digits) and a backslash as `\\`; every other byte is itself.
 */
export function decodeEscapedBytea(text: string): Buffer {
  // The common case (ASCII without a backslash): every character is one byte.
  if (text.indexOf('\\') === -1) return Buffer.from(text, 'latin1');
  const bytes = Buffer.allocUnsafe(text.length);
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== BACKSLASH) {
      bytes[length++] = c;
    } else if (text.charCodeAt(i + 1) === BACKSLASH) {
      bytes[length++] = BACKSLASH;
      i += 1;
    } else {
      bytes[length++] = octal(text, i + 1) * 64 + octal(text, i + 2) * 8 + octal(text, i + 3);
      i += 3;
    }
  }
  return bytes.subarray(0, length);
}

const BACKSLASH = 0x5c;

function octal(text: string, at: number): number {
  const digit = text.charCodeAt(at) - 0x30;
  // The position only: the body is the caller's data.
  if (!(digit >= 0 && digit <= 7)) throw new Error(`not bytea escape text: a backslash without three octal digits at ${at - 1}`);
  return digit;
}
