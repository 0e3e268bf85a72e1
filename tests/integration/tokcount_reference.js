// Token counts by js-tiktoken (the package the shim's tables come from), the
// reference the shim's estimate must equal. Reads JSON {"texts": [...]} on
// stdin, prints JSON {"o200k_base": [...], "cl100k_base": [...]}.
'use strict';
const path = require('path');
const { getEncoding } = require(path.join(__dirname, '..', '..', 'data', 'tokenizer', 'node_modules', 'js-tiktoken'));
let input = '';
process.stdin.on('data', (d) => (input += d));
process.stdin.on('end', () => {
  const { texts } = JSON.parse(input);
  const out = {};
  for (const name of ['o200k_base', 'cl100k_base']) {
    const enc = getEncoding(name);
    out[name] = texts.map((t) => enc.encode(t, [], []).length);
  }
  console.log(JSON.stringify(out));
});
