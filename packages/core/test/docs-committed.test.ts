import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { registry } from '../../../examples/ec2-chain/registry.js';
import { generateDocs, staleDocs } from '../src/docs/generate.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const REGENERATE = 'npx tsx --conditions=@org/source packages/core/src/cli.ts docs --entry examples/ec2-chain/registry.ts --out docs/events';

describe('the committed docs/events', () => {
  it('match what the example registry generates now (the same check as `eventbus docs --check`)', async () => {
    const docs = generateDocs(registry);
    expect(docs.graph.findings.filter((f) => f.severity === 'error')).toEqual([]);
    const stale = await staleDocs(join(root, 'docs/events'), docs);
    expect(stale, `docs/events is out of date; run: ${REGENERATE}`).toEqual([]);
  });
});
