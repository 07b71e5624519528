/**
 * `npm run token`: a fresh development Authorization header and tenant header, for hand-made requests,
 * and a fresh storage token for npm start's OneLake listing line, as the shell variable that line reads.
 */
import { join } from 'node:path';
import { createDevIssuer, devAuthorization, devStorageToken } from './devIssuer';
import { devSettings } from './devSettings';

try {
  const settings = devSettings(process.env, join(__dirname, '..', '..'));
  const issuer = createDevIssuer(settings);
  process.stdout.write(`Authorization: ${devAuthorization(issuer, settings)}\n`);
  process.stdout.write(`x-ms-client-tenant-id: ${settings.DEV_USER_TENANT_ID}\n`);
  process.stdout.write(`ONELAKE_AUTH='${devStorageToken(issuer, settings)}'\n`);
} catch (error) {
  process.stderr.write(`npm run token: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
