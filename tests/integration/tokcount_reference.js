// Token counts by js-tiktoken (the package the shim's tables come from), the
// reference the shim's estimate must equal. Reads JSON {"texts": [...]} on
// stdin, prints JSON {"o200k_base": [...], "cl100k_base": [...]}.
'use strict';
const path = require('path');
const { getEncoding } = require(path.join(__dirname, '..', '..', 'data', 'tokenizer', 'node_modules', 'js-tiktoken'));
let input = '';
process.stdin.on('data', (d) => (input += d));
process.stdin.on('end', () => {
  const { texts, chat } = JSON.parse(input);
  const out = {};
  for (const name of ['o200k_base', 'cl100k_base']) {
    const enc = getEncoding(name);
    const n = (t) => enc.encode(t, [], []).length;
    out[name] = (texts || []).map(n);
    // OpenAI's cookbook count of a chat prompt: 3 per message, 1 per name,
    // each field encoded on its own, 3 to prime the reply.
    if (chat) {
      let tokens = 3;
      for (const m of chat.messages) {
        tokens += 3;
        for (const [k, v] of Object.entries(m)) {
          if (typeof v === 'string') tokens += n(v) + (k === 'name' ? 1 : 0);
        }
      }
      out[name + '_chat'] = { prompt: tokens, completion: n(chat.completion) };
    }
  }
  console.log(JSON.stringify(out));
});
