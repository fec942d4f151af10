// Sign a file as a CI system would, with a Sigstore of its own: a local,
// offline Fulcio, CT log and Rekor (@sigstore/mock) on 127.0.0.1, and the
// real `sigstore` client. For tests only: its keys are thrown away.
//
//   node sigstore-sign.js FILE OUTDIR [--subject URI] [--repository URI] [--builder URI] [--issuer URI] [--age-days N]
//
// --age-days N runs the services' clocks N days back, as if the release
// had been signed and logged then.
// Writes OUTDIR/<FILE's name>.sigstore.json, a bundle (v0.3 layout, DSSE)
// holding an SLSA provenance v1 statement whose subject is FILE's SHA-256,
// and OUTDIR/trusted_root.json, the root that verifies it (and nothing else).
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const path = require('path');
const mock = require('@sigstore/mock');
const sigstore = require('sigstore');

function options(argv) {
  const [file, outDir, ...rest] = argv;
  if (!file || !outDir) {
    throw new Error('usage: node sigstore-sign.js FILE OUTDIR [--subject URI] [--repository URI] [--builder URI] [--issuer URI] [--age-days N]');
  }
  const o = {
    file,
    outDir,
    issuer: 'https://token.actions.githubusercontent.com',
    subject: 'https://github.com/airlock-test/actions/.github/workflows/release.yml@refs/tags/v1.0.0',
    repository: 'https://github.com/airlock-test/actions',
    builder: 'https://github.com/actions/runner/github-hosted',
    'age-days': '0',
  };
  for (let i = 0; i < rest.length; i += 2) {
    const key = rest[i].replace(/^--/, '');
    if (!(key in o) || rest[i + 1] === undefined) throw new Error(`unknown or empty option ${rest[i]}`);
    o[key] = rest[i + 1];
  }
  return o;
}

const b64 = (bytes) => Buffer.from(bytes).toString('base64');
const b64url = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
const keyPair = () => crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const spki = (pair) => pair.publicKey.export({ type: 'spki', format: 'der' });
const keyId = (der) => b64(crypto.createHash('sha256').update(der).digest());

async function main() {
  const o = options(process.argv.slice(2));
  fs.mkdirSync(o.outDir, { recursive: true });
  const ctKeys = keyPair();
  const caKeys = keyPair();
  const logKeys = keyPair();
  // A minute back (and --age-days more), so that the certificate is valid
  // when it is checked.
  const days = Number(o['age-days']);
  if (!Number.isInteger(days) || days < 0) throw new Error(`--age-days ${o['age-days']} is not a whole number of days`);
  const clock = new Date(Date.now() - 60_000 - days * 86_400_000);
  const ctlog = await mock.initializeCTLog(ctKeys, clock);
  const ca = await mock.initializeCA(caKeys, ctlog, clock);
  const tlog = await mock.initializeTLog('https://rekor.local', logKeys, clock);
  const routes = {
    '/api/v2/signingCert': mock.fulcioHandler(ca, { strict: true }),
    '/api/v1/log/entries': mock.rekorHandler(tlog, { strict: true }),
  };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', async () => {
      const route = routes[req.url];
      if (!route) {
        res.writeHead(404);
        return res.end();
      }
      const { statusCode, response, contentType } = await route.fn(body);
      res.writeHead(statusCode, { 'Content-Type': contentType || 'application/json' });
      res.end(response);
    });
  });
  await new Promise((ready) => server.listen(0, '127.0.0.1', ready));
  const url = `http://127.0.0.1:${server.address().port}`;

  // The mock Fulcio reads the token's claims without checking a signature.
  const claims = {
    iss: o.issuer,
    sub: o.subject,
    aud: 'sigstore',
    exp: Math.floor(Date.now() / 1000) + 600,
  };
  const token = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims)}.`;
  const data = fs.readFileSync(o.file);
  const statement = {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: path.basename(o.file), digest: { sha256: crypto.createHash('sha256').update(data).digest('hex') } }],
    predicateType: 'https://slsa.dev/provenance/v1',
    predicate: {
      buildDefinition: {
        buildType: 'https://actions.github.io/buildtypes/workflow/v1',
        externalParameters: { workflow: { repository: o.repository, ref: 'refs/tags/v1.0.0', path: '.github/workflows/release.yml' } },
      },
      runDetails: { builder: { id: o.builder } },
    },
  };
  // legacyCompatibility: an intoto log entry, which the mock log completes.
  const bundle = await sigstore.attest(Buffer.from(JSON.stringify(statement)), 'application/vnd.in-toto+json', {
    fulcioURL: url,
    rekorURL: url,
    identityToken: token,
    legacyCompatibility: true,
  });
  server.close();

  const start = new Date(clock.getTime() - 3_600_000).toISOString();
  const root = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [{
      baseUrl: 'https://rekor.local',
      hashAlgorithm: 'SHA2_256',
      publicKey: { rawBytes: b64(spki(logKeys)), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } },
      logId: { keyId: keyId(spki(logKeys)) },
    }],
    certificateAuthorities: [{
      subject: { organization: 'sigstore.mock', commonName: 'sigstore' },
      uri: 'https://fulcio.local',
      certChain: { certificates: [{ rawBytes: b64(ca.rootCertificate) }] },
      validFor: { start },
    }],
    ctlogs: [{
      baseUrl: 'https://ctfe.local',
      hashAlgorithm: 'SHA2_256',
      publicKey: { rawBytes: b64(spki(ctKeys)), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } },
      logId: { keyId: b64(ctlog.logID) },
    }],
    timestampAuthorities: [],
  };
  const name = `${path.basename(o.file)}.sigstore.json`;
  fs.writeFileSync(path.join(o.outDir, name), JSON.stringify(bundle));
  fs.writeFileSync(path.join(o.outDir, 'trusted_root.json'), JSON.stringify(root));
}

main().catch((e) => {
  console.error(`sigstore-sign: ${e.message || e}`);
  process.exit(1);
});
