/**
 * Application Insights' ingestion endpoint (POST /v2.1/track), on loopback,
 * for the tests and the benchmark: the real exporter sends to it exactly what
 * it would send to Azure, and it keeps every envelope to be read back.
 *
 * The exporter speaks only https (it rewrites an http IngestionEndpoint), so
 * this serves TLS with a self-signed certificate for 127.0.0.1 made at start;
 * the process that exports trusts it through NODE_EXTRA_CA_CERTS (`caFile`).
 * `exporterEnv` also turns off the exporter's own usage reports (statsbeat),
 * which go to fixed Microsoft addresses whatever the connection string says,
 * and preloads dev/loopbackOnly.ts, so that nothing the exporting process
 * runs can reach past loopback even if a new version reports somewhere new.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { PROJECT_ROOT } from './projectRoot';
import { certificatePem, selfSignedCertificate } from './x509';

/** One telemetry item as the exporter sends it (a trace is baseType MessageData). */
export interface Envelope {
  name: string;
  time: string;
  iKey: string;
  tags: Record<string, string>;
  data: {
    baseType: string;
    baseData: { message?: string; severityLevel?: string; properties?: Record<string, string> };
  };
}

export interface FakeIngestion {
  /** APPLICATIONINSIGHTS_CONNECTION_STRING pointing here, with an instrumentation key of its own. */
  connectionString: string;
  instrumentationKey: string;
  /** The certificate to trust (NODE_EXTRA_CA_CERTS). */
  caFile: string;
  /** The settings an exporting process needs: the connection string, the trust, statsbeat off. */
  exporterEnv: Record<string, string>;
  envelopes(): Envelope[];
  /** Authorization headers received, in order (a bearer token when the exporter has a credential). */
  authorizations(): (string | undefined)[];
  /** The next answers: a status to give instead of accepting, once per request. */
  failNext(status: number, times?: number): void;
  /** From now on, read each request and never answer it (an endpoint that hangs). */
  hang(): void;
  /** Requests received and not answered (while hanging). */
  unanswered(): number;
  close(): Promise<void>;
}

/** dev/loopbackOnly.ts compiled: a process preloads it through NODE_OPTIONS. */
const LOOPBACK_ONLY = join(PROJECT_ROOT, 'dist', 'dev', 'loopbackOnly.js');

export async function startFakeIngestion(): Promise<FakeIngestion> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const cert = certificatePem(selfSignedCertificate(privateKey, 'local ingestion', '127.0.0.1'));
  const dir = mkdtempSync(join(tmpdir(), 'fake-ingestion-'));
  const caFile = join(dir, 'ca.pem');
  // With what this process already trusts (the development certificate of the token endpoint and OneLake's
  // stand-in): a process started with this NODE_EXTRA_CA_CERTS must reach those too.
  writeFileSync(caFile, `${inheritedExtraCertificates()}${cert}`);
  const envelopes: Envelope[] = [];
  const authorizations: (string | undefined)[] = [];
  const failures: number[] = [];
  let hanging = false;
  let unanswered = 0;
  const server = createServer({ key: privateKey.export({ format: 'pem', type: 'pkcs8' }), cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (hanging) {
        unanswered++;
        res.on('close', () => unanswered--);
        return;
      }
      const failure = failures.shift();
      if (req.method !== 'POST' || req.url !== '/v2.1/track' || failure !== undefined) {
        res.writeHead(failure ?? 404).end();
        return;
      }
      const raw = Buffer.concat(chunks);
      const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
      const items = JSON.parse(body.toString('utf8')) as Envelope[];
      envelopes.push(...items);
      authorizations.push(req.headers.authorization);
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ itemsReceived: items.length, itemsAccepted: items.length, errors: [] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  // A key of its own: the exporter keeps batches it could not send under os.tmpdir(), by key, and sends them later.
  const instrumentationKey = randomUUID();
  const connectionString = `InstrumentationKey=${instrumentationKey};IngestionEndpoint=https://127.0.0.1:${port}/`;
  return {
    connectionString,
    instrumentationKey,
    caFile,
    exporterEnv: {
      APPLICATIONINSIGHTS_CONNECTION_STRING: connectionString,
      NODE_EXTRA_CA_CERTS: caFile,
      APPLICATION_INSIGHTS_NO_STATSBEAT: 'true',
      APPLICATIONINSIGHTS_SDKSTATS_DISABLED: 'true',
      NODE_OPTIONS: `--require ${JSON.stringify(LOOPBACK_ONLY)}`,
      // Where the exporter keeps batches to retry: removed with the rest on close.
      TMPDIR: dir,
    },
    envelopes: () => [...envelopes],
    authorizations: () => [...authorizations],
    failNext: (status, times = 1) => failures.push(...Array<number>(times).fill(status)),
    hang: () => void (hanging = true),
    unanswered: () => unanswered,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The PEM text NODE_EXTRA_CA_CERTS names in this process's environment, or ''. */
function inheritedExtraCertificates(): string {
  const file = process.env.NODE_EXTRA_CA_CERTS;
  if (!file) return '';
  try {
    return `${readFileSync(file, 'utf8').trimEnd()}\n`;
  } catch {
    return '';
  }
}
