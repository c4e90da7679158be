// A real OpenID Connect provider for the tests: the certified `oidc-provider` package on
// loopback. Started by tests/sso/harness.py with OIDC_TEST_CONFIG (clients, accounts) in the
// environment; prints `READY <issuer>` when listening.
//
// Logging in is non-interactive: the interaction page logs in the account named by the
// authorization request's login_hint and grants the requested scopes, so a test can drive the
// whole flow with plain HTTP. POST /__control sets faults, which come out of the real token
// endpoint re-signed with the provider's own key: {"id_token": {"aud": "x", "exp_offset": -3600,
// "nonce": "x", "iss": "x", "bad_signature": true, "alg_none": true}}; {} resets.
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

// Faults: rewrite the ID token the real token endpoint issued, signed with the same key.
provider.use(async (ctx, next) => {
  await next();
  const wanted = faults.id_token;
  if (!wanted || ctx.path !== '/token' || !ctx.body || !ctx.body.id_token) return;
  const claims = decodeJwt(ctx.body.id_token);
  if (wanted.aud !== undefined) claims.aud = wanted.aud;
  if (wanted.iss !== undefined) claims.iss = wanted.iss;
  if (wanted.nonce !== undefined) claims.nonce = wanted.nonce;
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
  ctx.body.id_token = await new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: jwk.kid })
    .sign(wanted.bad_signature ? forgeryKey : privateKey);
});

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name === 'login') {
    const sub = details.params.login_hint || config.default_login;
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
