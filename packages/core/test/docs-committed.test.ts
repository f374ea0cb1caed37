import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as entry from '../../ec2-handlers/src/event-graph.js';
import { generateDocs, staleDocs } from '../src/docs/generate.js';
import { registryFromModule } from '../src/graph/describe-app.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const REGENERATE = 'npx pnpm@10.34.8 docs:events';

describe('the committed docs/events', () => {
  it('match what the reference service declares now (the same check as `eventbus docs --check`)', async () => {
    const registry = await registryFromModule(entry as Record<string, unknown>, { title: 'EC2 launch service' });
    const docs = generateDocs(registry);
    expect(docs.graph.findings).toEqual([]);
    const stale = await staleDocs(join(root, 'docs/events'), docs);
    expect(stale, `docs/events is out of date; run: ${REGENERATE}`).toEqual([]);
  });
});
