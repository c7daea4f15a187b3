/**
 * A throwaway PKI for mTLS tests, made with the `openssl` binary: certificate authorities and certificates
 * with chosen extensions (URI SANs for X.509-SVIDs, CA flags), plus an HTTPS client on node:https that can
 * present a client certificate (fetch cannot).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';

export interface CertFiles {
  cert: string;
  key: string;
}

const openssl = (dir: string, args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
const serial = () => `0x${randomBytes(8).toString('hex')}`;

/** A self-signed root CA. */
export function makeRootCa(dir: string, name: string): CertFiles {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.crt`);
  openssl(dir, [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { cert, key };
}

/** A certificate signed by `ca` with the given extension lines (OpenSSL x509v3 config syntax). */
export function makeCert(dir: string, name: string, ca: CertFiles, extensions: string[]): CertFiles {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, extensions.join('\n') + '\n');
  openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${name}`]);
  openssl(dir, ['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', serial(), '-days', '2', '-extfile', ext, '-out', cert]);
  return { cert, key };
}

/** An X.509-SVID leaf: not a CA, digitalSignature, clientAuth, with these URI SANs. */
export const svidExtensions = (...uris: string[]): string[] => [
  'basicConstraints=critical,CA:FALSE',
  'keyUsage=critical,digitalSignature',
  'extendedKeyUsage=clientAuth',
  ...(uris.length > 0 ? [`subjectAltName=${uris.map((u) => `URI:${u}`).join(',')}`] : []),
];

export interface HttpsResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

export interface TlsClientOptions {
  /** The CA that signed the server certificate. */
  ca: string;
  client?: CertFiles;
}

/** One HTTPS request with an optional client certificate; rejects on a TLS or connection failure. */
export function httpsCall(url: string, method: string, tls: TlsClientOptions, headers: Record<string, string> = {}, body?: string): Promise<HttpsResult> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        method,
        agent: false,
        ca: readFileSync(tls.ca),
        ...(tls.client ? { cert: readFileSync(tls.client.cert), key: readFileSync(tls.client.key) } : {}),
        headers: { ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}), ...headers },
        timeout: 5_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}
