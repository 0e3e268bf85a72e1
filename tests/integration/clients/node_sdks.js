// The official OpenAI and Anthropic SDKs, as an unmodified Node.js program
// uses them, run under Debian's Node.js 18 (system OpenSSL).
// Usage: node node_sdks.js PORT CA PLAN_FILE
//   PLAN_FILE: JSON [{"sdk": "openai"|"anthropic", "api": ..., "case": ..., "framing": ..., "params": {...}}]
// Provider host names resolve to 127.0.0.1 in this process only, so TLS
// verification and SNI are the real ones. Prints per call a SHA-256 of what
// the SDK returned (the response object, or every stream event).
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const https = require('https');
const path = require('path');

const modules = path.join(__dirname, '..', '..', 'node', 'node_modules');
const OpenAI = require(path.join(modules, 'openai'));
const Anthropic = require(path.join(modules, '@anthropic-ai', 'sdk'));

const [port, ca, planFile] = process.argv.slice(2);
const plan = JSON.parse(fs.readFileSync(planFile, 'utf8'));

// keepAlive off: Node 18's node-fetch fails streams on reused connections
// ("Premature close") with or without the shim.
const agent = new https.Agent({
  keepAlive: false,
  ca: fs.readFileSync(ca),
  lookup: (host, opts, cb) => (opts && opts.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4)),
});

const openai = new OpenAI({ apiKey: 'sk-test-not-a-key', baseURL: `https://api.openai.com:${port}/v1`, httpAgent: agent, maxRetries: 0 });
const anthropic = new Anthropic({ apiKey: 'sk-ant-test-not-a-key', baseURL: `https://api.anthropic.com:${port}`, httpAgent: agent, maxRetries: 0 });

function digest(x) {
  return crypto.createHash('sha256').update(JSON.stringify(x)).digest('hex');
}

async function call(c) {
  const opts = { headers: { 'x-test-case': c.case, 'x-test-framing': c.framing } };
  let result;
  if (c.sdk === 'openai') {
    const api = { chat: openai.chat.completions, responses: openai.responses, embeddings: openai.embeddings }[c.api];
    result = await api.create(c.params, opts);
  } else {
    const api = c.api === 'beta' ? anthropic.beta.messages : anthropic.messages;
    result = await api.create(c.params, opts);
  }
  if (c.params.stream) {
    const events = [];
    for await (const ev of result) events.push(ev);
    return digest(events) + ' events=' + events.length;
  }
  return digest(result);
}

(async () => {
  for (const c of plan) console.log(c.case, await call(c));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
