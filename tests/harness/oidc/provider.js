// A real OpenID Connect provider for SBT's end-to-end tests: oidc-provider (OpenID Certified), configured
// from a JSON file named on the command line:
//   {"port": 9000, "issuer": "http://127.0.0.1:9000",
//    "clients": [{"client_id": ..., "client_secret": ..., "redirect_uris": [...]}],
//    "accounts": {"login": {"password": ..., "mfa": false, "claims": {"name": ..., "groups": [...], ...}}}}
// PKCE (S256) is required of every client. The sign-in is a minimal interaction of our own: a form with a
// login and a password, checked against the accounts above (a test drives it with an HTTP client); consent
// is granted for the configured clients, as an agency's provider does for its own applications. It prints
// "ready <issuer>" once it listens.
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const accounts = config.accounts;
const claimNames = [...new Set(Object.values(accounts).flatMap((account) => Object.keys(account.claims)))];

// A fresh signing key per run: the relying party must fetch it from the provider's JWKS.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: `test-${Date.now()}`, use: 'sig', alg: 'RS256' };

const provider = new Provider(config.issuer, {
  clients: config.clients.map((client) => ({
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: client.client_secret ? 'client_secret_basic' : 'none',
    ...client,
  })),
  jwks: { keys: [jwk] },
  cookies: { keys: ['sbt-test-provider-cookie-key'] },
  pkce: { required: () => true },
  claims: {
    acr: null,
    auth_time: null,
    sid: null,
    // How the person signed in (RFC 8176), with every ID token: the relying party checks it for some roles.
    openid: ['sub', 'amr'],
    profile: ['name', 'preferred_username'],
    email: ['email'],
    // Whatever else the accounts carry (groups, agency...), asked for with the scope "sbt".
    sbt: claimNames.filter((name) => !['name', 'preferred_username', 'email'].includes(name)),
  },
  // Claims in the ID token itself, not only at the userinfo endpoint.
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: false } },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(_ctx, sub) {
    const account = accounts[sub];
    if (!account) return undefined;
    return { accountId: sub, async claims() { return { sub, ...account.claims }; } };
  },
  async loadExistingGrant(ctx) {
    // First-party clients: everything they ask for is granted, no consent screen.
    const { client, session } = ctx.oidc;
    if (!session.accountId) return undefined;
    const grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
    grant.addOIDCScope(ctx.oidc.params.scope || 'openid');
    await grant.save();
    return grant;
  },
});
provider.proxy = false;

function page(uid, error) {
  return `<!doctype html><html lang="en"><title>Test provider: sign in</title>
<form method="post" action="/interaction/${uid}/login">
${error ? `<p class="error">${error}</p>` : ''}
<input name="login" autocomplete="username"> <input name="password" type="password">
<button type="submit">Sign in</button></form></html>`;
}

async function formOf(ctx) {
  let body = '';
  for await (const chunk of ctx.req) body += chunk;
  return new URLSearchParams(body);
}

provider.use(async (ctx, next) => {
  const match = ctx.path.match(/^\/interaction\/([\w-]+)(\/login)?$/);
  if (!match) return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (ctx.method === 'GET' && !match[2]) {
    ctx.type = 'html';
    ctx.body = page(details.uid);
    return undefined;
  }
  if (ctx.method === 'POST' && match[2]) {
    const form = await formOf(ctx);
    const login = form.get('login') || '';
    const account = accounts[login];
    if (!account || account.password !== form.get('password')) {
      ctx.status = 401;
      ctx.type = 'html';
      ctx.body = page(details.uid, 'wrong login or password');
      return undefined;
    }
    const amr = account.mfa ? ['pwd', 'otp'] : ['pwd'];
    return provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: login, amr } },
      { mergeWithLastSubmission: false });
  }
  ctx.status = 405;
  return undefined;
});

provider.listen(config.port, '127.0.0.1', () => {
  process.stdout.write(`ready ${config.issuer}\n`);
});
