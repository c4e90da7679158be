// A real OpenID Connect provider for the tests: the certified `oidc-provider` package on
// loopback. Started by tests/sso/harness.py with OIDC_TEST_CONFIG (clients, accounts) in the
// environment; prints `READY <issuer>` when listening.
//
// Logging in is non-interactive: the interaction page logs in the account named by the
// authorization request's login_hint and grants the requested scopes, so a test can drive the
// whole flow with plain HTTP. POST /__control sets faults; {} resets. They make this certified
// provider a crafted one, each fault on top of the real protocol:
//   {"id_token": {...}}: the ID token the real token endpoint issued, rewritten and re-signed with
//     the provider's own key: "aud", "iss", "nonce", "sub" (any string: over-long, NUL...),
//     "exp_offset" (seconds from now), "bad_signature": true (a key the JWKS never publishes),
//     "alg_none": true (unsigned), "hs256_client_secret": true (HMAC keyed by the client secret).
//   {"discovery": {...}}: members laid over the real discovery document, e.g. "issuer", or
//     "id_token_signing_alg_values_supported": ["none", "HS256", "RS256"].
//   {"jwks_client_secret": true}: the JWKS also publishes the client secret as an `oct` key
//     (kid "client-secret"), so an HS256 token keyed by it verifies against the JWKS.
//   {"authorization_error": "access_denied"}: the login ends with that OAuth error code, sent to
//     the client's redirect URI as a real provider does (RFC 6749 4.1.2.1).
//   {"login_as": "<sub>"}: log in that account whatever the login_hint (for subjects longer than
//     a login_hint may be).
import http from 'node:http';
import Provider from 'oidc-provider';
import { SignJWT, decodeJwt, exportJWK, generateKeyPair } from 'jose';

const config = JSON.parse(process.env.OIDC_TEST_CONFIG || '{}');
const port = Number(process.argv[process.argv.indexOf('--port') + 1] || 0);

const { privateKey } = await generateKeyPair('RS256', { extractable: true });
// A second key the JWKS never publishes, for forged signatures under the real key's kid.
const { privateKey: forgeryKey } = await generateKeyPair('RS256', { extractable: true });
const jwk = { ...(await exportJWK(privateKey)), kid: 'test-key-1', alg: 'RS256', use: 'sig' };
let faults = {};

const server = http.createServer();
await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const accounts = Object.fromEntries((config.accounts || []).map((a) => [a.sub, a]));
const provider = new Provider(issuer, {
  clients: (config.clients || []).map((c) => ({
    client_id: c.client_id,
    client_secret: c.client_secret,
    redirect_uris: c.redirect_uris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  })),
  jwks: { keys: [jwk] },
  pkce: { required: () => true },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    const account = accounts[id];
    if (!account) return undefined;
    return { accountId: id, async claims() { return { ...account, sub: id }; } };
  },
  cookies: { keys: ['test-cookie-key'] },
});
provider.proxy = false;

const clientSecret = (config.clients || [])[0]?.client_secret || '';
const secretKid = 'client-secret';

// Faults on the discovery document and the JWKS: members laid over the real answers.
provider.use(async (ctx, next) => {
  await next();
  if (ctx.path === '/.well-known/openid-configuration' && faults.discovery && ctx.body) {
    ctx.body = { ...ctx.body, ...faults.discovery };
  }
  if (ctx.path === '/jwks' && faults.jwks_client_secret && ctx.body) {
    const k = Buffer.from(clientSecret).toString('base64url');
    ctx.body = { keys: [...ctx.body.keys, { kty: 'oct', kid: secretKid, alg: 'HS256', use: 'sig', k }] };
  }
});

// Faults: rewrite the ID token the real token endpoint issued, signed with the same key.
provider.use(async (ctx, next) => {
  await next();
  const wanted = faults.id_token;
  if (!wanted || ctx.path !== '/token' || !ctx.body || !ctx.body.id_token) return;
  const claims = decodeJwt(ctx.body.id_token);
  if (wanted.aud !== undefined) claims.aud = wanted.aud;
  if (wanted.iss !== undefined) claims.iss = wanted.iss;
  if (wanted.nonce !== undefined) claims.nonce = wanted.nonce;
  if (wanted.sub !== undefined) claims.sub = wanted.sub;
  if (wanted.exp_offset !== undefined) {
    const now = Math.floor(Date.now() / 1000);
    claims.exp = now + wanted.exp_offset;
    claims.iat = Math.min(claims.iat, claims.exp - 60);
  }
  if (wanted.alg_none) {
    const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
    ctx.body.id_token = `${part({ alg: 'none', kid: jwk.kid })}.${part(claims)}.`;
    return;
  }
  if (wanted.hs256_client_secret) {
    ctx.body.id_token = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', kid: secretKid })
      .sign(new TextEncoder().encode(clientSecret));
    return;
  }
  ctx.body.id_token = await new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: jwk.kid })
    .sign(wanted.bad_signature ? forgeryKey : privateKey);
});

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  if (faults.authorization_error) {
    const result = { error: faults.authorization_error, error_description: 'The crafted provider refused' };
    return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  }
  if (details.prompt.name === 'login') {
    const sub = faults.login_as || details.params.login_hint || config.default_login;
    return provider.interactionFinished(req, res, { login: { accountId: sub } }, { mergeWithLastSubmission: false });
  }
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
  grant.addOIDCScope(details.params.scope);
  const grantId = await grant.save();
  return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

async function control(req, res) {
  let body = '';
  for await (const chunk of req) body += chunk;
  faults = JSON.parse(body || '{}');
  res.writeHead(204).end();
}

const callback = provider.callback();
server.on('request', (req, res) => {
  if (req.url.startsWith('/interaction/')) {
    interaction(req, res).catch((err) => { res.writeHead(500).end(String(err)); });
  } else if (req.url === '/__control' && req.method === 'POST') {
    control(req, res).catch((err) => { res.writeHead(400).end(String(err)); });
  } else {
    callback(req, res);
  }
});

console.log(`READY ${issuer}`);
