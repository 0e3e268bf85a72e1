// Node's own HTTP/2 client (nghttp2 inside Node 18, TLS through the system
// OpenSSL's memory BIOs) on one session: a refused stream, a stream under
// budget, two streams at once (one of each), then one more under budget.
// Prints [agent, :status, error code or prompt_tokens] per request.
// Usage: node node_h2_budget.js PORT CA CASE BODY_FILE
'use strict';
const fs = require('fs');
const http2 = require('http2');

const [port, ca, testCase, bodyFile] = process.argv.slice(2);
const body = fs.readFileSync(bodyFile);
const session = http2.connect(`https://api.openai.com:${port}`, {
  ca: fs.readFileSync(ca),
  lookup: (host, opts, cb) => (opts && opts.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4)),
});
session.on('error', (e) => { console.error('session error', e); process.exit(1); });

function call(agent) {
  return new Promise((resolve, reject) => {
    const req = session.request({
      ':method': 'POST', ':path': '/v1/chat/completions', 'content-type': 'application/json',
      'x-spaturzu-agent': agent, 'x-test-case': testCase, authorization: 'Bearer sk-test-not-a-key',
    });
    let status = 0;
    const chunks = [];
    req.on('response', (h) => { status = h[':status']; });
    req.on('data', (d) => chunks.push(d));
    req.on('end', () => {
      const doc = JSON.parse(Buffer.concat(chunks).toString());
      resolve([agent, status, status === 200 ? doc.usage.prompt_tokens : doc.error.code]);
    });
    req.on('error', reject);
    req.end(body);
  });
}

(async () => {
  const out = [];
  out.push(await call('blocked'));
  out.push(await call('free'));
  out.push(...(await Promise.all([call('blocked'), call('free')])));
  out.push(await call('free'));
  session.close();
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
setTimeout(() => { console.error('timed out'); process.exit(2); }, 20000).unref();
