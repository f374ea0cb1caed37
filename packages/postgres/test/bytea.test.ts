import { describeBroker } from '@org/eventbus/testing';
import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { decodeEscapedBytea } from '../src/bytea.js';
import { URL_VARIABLE } from './helpers.js';

describeBroker("postgres bytea escape text (what the relay's scan reads)", { variable: URL_VARIABLE }, (url) => {
  const pool = new pg.Pool({ connectionString: url(), max: 1 });
  afterAll(() => pool.end());

  /** PostgreSQL's own `encode(…, 'escape')` of each body, decoded by ours. */
  async function roundTrip(bodies: Buffer[]): Promise<Buffer[]> {
    const { rows } = await pool.query<{ text: string }>("SELECT encode(b, 'escape') AS text FROM unnest($1::bytea[]) WITH ORDINALITY AS t(b, i) ORDER BY i", [bodies]);
    return rows.map((r) => decodeEscapedBytea(r.text));
  }

  it('decodes what PostgreSQL encodes, byte for byte: every byte value, backslashes, NULs, JSON, empty', async () => {
    const bodies = [
      Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
      Buffer.from(Array.from({ length: 2048 }, (_, i) => (i * 131 + 7) % 256)),
      Buffer.from('\\\\\\'),
      Buffer.from([0, 0, 92, 0, 92, 92, 255]),
      Buffer.from(JSON.stringify({ text: 'quote " backslash \\ é ✓ 😀', n: 1 })),
      Buffer.alloc(0),
    ];
    const decoded = await roundTrip(bodies);
    expect(decoded.map((b) => b.toString('hex'))).toEqual(bodies.map((b) => b.toString('hex')));
  });

  it('refuses text that is not escape output, naming the position and not the content', () => {
    expect(() => decodeEscapedBytea('secret\\9')).toThrow(/at 6$/);
    expect(() => decodeEscapedBytea('secret\\9')).not.toThrow(/secret/);
  });
});
