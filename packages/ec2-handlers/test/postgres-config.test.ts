import { ConfigError } from '@org/eventbus';
import { expect, it } from 'vitest';
import { optionsFromEnv } from '../src/config.js';
import { runId } from './helpers.js';
import { describePostgresMode, TestSchema } from './postgres-helpers.js';


describePostgresMode('Postgres mode from the environment', ({ postgresUrl }) => {

  it('EC2_POSTGRES_URL turns it on, migrates the schema, and the description hides the password', async () => {
    const schema = new TestSchema(postgresUrl, `ec2t_${runId()}`);
    // The test database trusts loopback, so a password is accepted and ignored: enough to see it hidden.
    const withPassword = new URL(postgresUrl);
    withPassword.password = 's3cret-pw';
    const options = await optionsFromEnv({ role: 'api' }, { EC2_POSTGRES_URL: withPassword.toString(), EC2_POSTGRES_SCHEMA: schema.name });
    try {
      expect(options.postgres).toBeDefined();
      expect(options.store).toBeUndefined();
      expect(options.describe).toContain('state postgres');
      expect(options.describe).not.toContain('s3cret-pw');
      const { rows } = await schema.pool.query<{ tablename: string }>('SELECT tablename FROM pg_tables WHERE schemaname = $1', [schema.name]);
      expect(rows.map((r) => r.tablename)).toEqual(
        expect.arrayContaining(['requests', 'request_steps', 'notifications', 'eventbus_outbox', 'eventbus_inbox']),
      );
    } finally {
      await options.postgres?.close();
      await schema.drop();
    }
  });

  it('refuses a bad switch before connecting, naming the variable', async () => {
    const bad = optionsFromEnv({}, { EC2_POSTGRES_URL: postgresUrl, EC2_POSTGRES_SYNC_COMMIT: 'maybe' });
    await expect(bad).rejects.toThrow(ConfigError);
    await expect(bad).rejects.toThrow(/EC2_POSTGRES_SYNC_COMMIT/);
    await expect(optionsFromEnv({}, { EC2_POSTGRES_URL: postgresUrl, EC2_POSTGRES_SCHEMA: 'Not-A-Schema' })).rejects.toThrow(/schema/);
  });
});
