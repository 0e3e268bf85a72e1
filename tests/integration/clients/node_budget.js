// The official openai SDK under Debian's Node.js 18 against a breached
// budget: the refused call must raise the SDK's usual RateLimitError
// (status 429, code budget_exceeded) without retrying; a call of an agent
// under budget then succeeds. Usage: node node_budget.js PORT CA CASE BODY_FILE
'use strict';
const fs = require('fs');
const https = require('https');
const path = require('path');

const OpenAI = require(path.join(__dirname, '..', '..', 'node', 'node_modules', 'openai'));
const [port, ca, testCase, bodyFile] = process.argv.slice(2);
const agent = new https.Agent({
  keepAlive: false,
  ca: fs.readFileSync(ca),
  lookup: (host, opts, cb) => (opts && opts.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4)),
});
// Default retries (2): the refusal's x-should-retry: false must stop them.
const openai = new OpenAI({ apiKey: 'sk-test-not-a-key', baseURL: `https://api.openai.com:${port}/v1`, httpAgent: agent });
const params = JSON.parse(fs.readFileSync(bodyFile, 'utf8'));

(async () => {
  const out = {};
  const started = Date.now();
  try {
    await openai.chat.completions.create(params, { headers: { 'x-spaturzu-agent': 'blocked', 'x-test-case': testCase } });
    out.refused = 'no error';
  } catch (e) {
    out.refused = { class: e.constructor.name, status: e.status, code: e.code, message: e.message };
  }
  out.refusedMs = Date.now() - started;
  const r = await openai.chat.completions.create(params, { headers: { 'x-spaturzu-agent': 'free', 'x-test-case': testCase } });
  out.served = r.usage;
  console.log(JSON.stringify(out));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
