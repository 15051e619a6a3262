#!/usr/bin/env node
// gen_corpus.js: writes corpus.jsonl, the strings tests/test_tokenizer.c checks
// against the reference tokenizer (oracle.js). Deterministic (seeded PRNG);
// rerun after editing and regenerate expected.jsonl with oracle.js:
//   node gen_corpus.js TOKENIZER_JSON > corpus.jsonl
//   node oracle.js corpus.jsonl > expected.jsonl
// Line format: a JSON string, or {"repeat": S, "times": N} for S repeated N
// times (long inputs stay small in the file).
'use strict';
const fs = require('fs');

const tokPath = process.argv[2];
if (!tokPath) {
  console.error('usage: node gen_corpus.js TOKENIZER_JSON > corpus.jsonl');
  process.exit(2);
}
const tj = JSON.parse(fs.readFileSync(tokPath, 'utf8'));
const nVocab = Object.keys(tj.model.vocab).length;
// Added pieces inside the vocabulary (<image_soft_token> lies beyond it: the
// GGUF vocabulary, as llama.cpp writes it, has 262144 pieces).
const added = tj.added_tokens.filter((a) => a.id < nVocab).map((a) => a.content);
const control = tj.added_tokens.filter((a) => a.special && a.id < nVocab).map((a) => a.content);
const tags = added.filter((s) => /^<\/?[a-z0-9]+>$/.test(s) && !control.includes(s) &&
                           !s.startsWith('<unused'));

let seed = 0x9e3779b9;
function rnd() { // mulberry32
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const ri = (n) => Math.floor(rnd() * n);
const pick = (a) => a[ri(a.length)];

const out = [];
const seen = new Set();
function add(s) {
  if (typeof s === 'string') {
    if (seen.has(s)) return;
    seen.add(s);
  }
  out.push(s);
}

// ---- natural language, many scripts -------------------------------------
const sentences = [
  'Hello world', 'Hello, world!', 'The quick brown fox jumps over the lazy dog.',
  'I\'m sure it\'s fine; don\'t worry.', 'e.g. 3.14159, 2^10 = 1024, 1e-9, -0.5, $12.99, 50%',
  'Café, naïve, résumé, coöperate, façade, jalapeño, Ångström, Zürich, São Paulo, Kraków',
  'Les élèves étudient à l\'école près de la forêt où l\'été est doux.',
  'Größe, Straße, Mädchen, Übermäßig schöne Bäume blühen früh.',
  'El niño pidió una piña y un café con leche mañana por la mañana.',
  'Árvíztűrő tükörfúrógép; Příliš žluťoučký kůň úpěl ďábelské ódy.',
  'Zażółć gęślą jaźń. Łódź, Gdańsk, Wrocław.', 'Ça va? Où est-ce que tu vas?',
  'Съешь же ещё этих мягких французских булок, да выпей чаю.',
  'Привет, мир! Как дела? Москва, Санкт-Петербург, Київ, Беларусь.',
  'Ελληνικά: Ξεσκεπάζω την ψυχοφθόρα βδελυγμία. Καλημέρα κόσμε!',
  'العربية: مرحبا بالعالم! كيف حالك اليوم؟ السلام عليكم ورحمة الله.',
  'עברית: שלום עולם! מה שלומך? ירושלים, תל אביב.',
  'हिन्दी: नमस्ते दुनिया! आप कैसे हैं? भारत एक विशाल देश है।',
  'বাংলা: আমি বাংলায় গান গাই। தமிழ்: வணக்கம் உலகம். తెలుగు: నమస్కారం',
  'ภาษาไทย: สวัสดีชาวโลก วันนี้อากาศดีมาก ขอบคุณครับ',
  '中文：你好，世界！今天天气很好。我们一起去公园散步吧。',
  '繁體中文：臺灣、香港、澳門。龜鱉鬱齉。',
  '日本語：こんにちは世界！今日はいい天気ですね。カタカナとひらがなと漢字。',
  '한국어: 안녕하세요 세계! 오늘 날씨가 좋네요. 감사합니다.',
  'Tiếng Việt: Xin chào thế giới! Tôi yêu tiếng Việt.',
  'Türkçe: Merhaba dünya! Iğdır, İstanbul, şişli, çağrı.',
  'Հայերեն: Բարեւ աշխարհ: ქართული: გამარჯობა მსოფლიო',
  'አማርኛ: ሰላም ልዑል። ᠮᠣᠩᠭᠣᠯ ᠪᠢᠴᠢᠭ ᚠᚢᚦᚨᚱᚲ',
  'فارسی: سلام دنیا! اردو: ہیلو دنیا', 'Ελληνικά και English mixed με русский текст.',
  'Math: ∀x∈ℝ, ∃y: x²+y²≥0; ∑ᵢ aᵢ ≤ ∫₀^∞ e^{-t} dt; α≠β; ∞ ≈ ∂f/∂x',
  'Symbols: © ® ™ § ¶ † ‡ • … ‰ ′ ″ ‹ › « » “ ” ‘ ’ — – ‐ ¿ ¡ ¬ ¦ ° ± µ',
  'Currency: € £ ¥ ₹ ₽ ₩ ₪ ₫ ₿ ¢ $', 'Arrows: ← → ↑ ↓ ↔ ⇒ ⇔ ⟶ ↩',
  'Box: ┌─┬─┐ │ │ │ ├─┼─┤ └─┴─┘ ░▒▓█', 'Fullwidth: ＡＢＣ１２３！？　ｶﾀｶﾅ',
  'Combining: e\u0301 a\u0308 n\u0303 o\u0302\u0323 Z\u0335\u0321\u0336a\u0337l\u0338g\u0334o\u0335',
  'NFD vs NFC: \u00e9 e\u0301 \u00c5 A\u030a \ud55c \u1112\u1161\u11ab',
  'RTL mix: abc \u05d0\u05d1\u05d2 123 \u0627\u0628\u062a def',
  'Zero width: a\u200bb\u200cc\u200dd\u2060e\ufeffF', 'Non-breaking:\u00a0x\u2007y\u202fz\u3000w',
  'To be, or not to be, that is the question: Whether \'tis nobler in the mind to suffer',
  'It was the best of times, it was the worst of times, it was the age of wisdom...',
  'In 1492, Columbus sailed the ocean blue. In 1969, Apollo 11 landed on the Moon.',
  'Call +1 (555) 123-4567 or email john.doe@example.com; visit https://example.org/a?b=c&d=e#f',
  'UPPER lower MiXeD CamelCase snake_case kebab-case SCREAMING_SNAKE dot.case',
  'Numbers: 0 1 12 123 1234 12345 123456 1234567 3.0 0.001 1,000,000 1_000_000 0xFF 0b1010',
  'Dates: 2024-01-31T12:34:56Z, 31/01/2024, Jan 31st 2024, 12:00 PM',
  'Emoji: 😀😃😄😁😆😅😂🤣🥲☺️😊', 'Hearts: ❤️🧡💛💚💙💜🖤🤍🤎💔❣️💕',
  'Family: 👨‍👩‍👧‍👦 👩‍❤️‍💋‍👨 🧑‍🤝‍🧑 👨‍💻 🏳️‍🌈 🏳️‍⚧️',
  'Skin tones: 👍🏻 👍🏼 👍🏽 👍🏾 👍🏿 🧑🏽‍🚀 🤝🏿', 'Flags: 🇫🇷 🇩🇪 🇯🇵 🇺🇸 🇧🇷 🇮🇳 🇺🇦 🏴󠁧󠁢󠁳󠁣󠁴󠁿 🏴󠁧󠁢󠁷󠁬󠁳󠁿',
  'Keycaps: 1️⃣ 2️⃣ #️⃣ *️⃣ 🔟', 'Misc: 🚀🔥✨🎉💯🙏🤖🦄🍕⚽🌍', 'Text vs emoji: ☺ ☺️ ✔ ✔️ ⚠ ⚠️',
];

// ---- code -------------------------------------------------------------
const code = [
  '#include <stdio.h>\n\nint main(int argc, char **argv)\n{\n    printf("Hello, %s!\\n", argv[0]);\n    return 0;\n}\n',
  'static inline uint32_t rotl(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }',
  'for (int i = 0; i < n; i++) {\n\tif (a[i] > max)\n\t\tmax = a[i];\n}\n',
  'def fib(n):\n    """Return the n-th Fibonacci number."""\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n',
  'class Foo:\n    def __init__(self, x: int = 0) -> None:\n        self.x = x  # comment\n\n    def __repr__(self):\n        return f"Foo({self.x!r})"\n',
  'import numpy as np\nx = np.arange(10).reshape(2, 5)\nprint(x.T @ x, x.sum(axis=-1))\n',
  '{"name": "g3vk", "version": "1.0.0", "tags": ["a", "b"], "nested": {"k": null, "n": -1.5e3, "t": true}}',
  '[\n  {\n    "id": 1,\n    "value": "x"\n  },\n  {\n    "id": 2,\n    "value": "y"\n  }\n]',
  '<!DOCTYPE html>\n<html>\n<body>\n<h1>Title</h1>\n<p>Para <strong>bold</strong> <em>it</em></p>\n</body>\n</html>\n',
  '<table><thead><tr><th>A</th><th>B</th></tr></thead><tbody><tr><td>1</td><td>2</td></tr></tbody></table>',
  '<div class="x"><span>hi</span><a href="#">link</a><img src="a.png"/><ul><li>one</li><li>two</li></ul></div>',
  '<code>x = 1;</code> <b>b</b><i>i</i><u>u</u><s>s</s><sub>2</sub><sup>3</sup> <blockquote>q</blockquote>',
  'SELECT id, name FROM users WHERE age >= 18 AND name LIKE \'%son\' ORDER BY id DESC LIMIT 10;',
  'fn main() {\n    let v: Vec<i32> = (0..10).map(|x| x * x).collect();\n    println!("{:?}", v);\n}\n',
  'const f = async (x) => { await fetch(`/api/${x}`); return x?.y ?? 0; };',
  '#!/bin/bash\nset -euo pipefail\nfor f in *.txt; do\n  echo "$f" | tr a-z A-Z\ndone\n',
  '    indented with four spaces\n        eight spaces\n\ttab\n\t\ttwo tabs\n  \t mixed \t \n',
  'x=1;y=2;z=x+y*3-4/5%6**7//8;a<<=2;b>>=3;c&=d|e^f~g;!h&&i||j?k:l',
  '/* block comment */ // line comment\n# hash comment\n-- sql comment\n<!-- html comment -->',
  'diff --git a/x.c b/x.c\n@@ -1,3 +1,4 @@\n-old line\n+new line\n context\n',
];

for (const s of sentences) add(s);
for (const s of code) add(s);

// ---- whitespace runs of every kind ----------------------------------------
for (let k = 1; k <= 40; k++) {
  add(' '.repeat(k));
  add('\t'.repeat(k));
  add('\n'.repeat(k));
  add('a' + ' '.repeat(k) + 'b');
  add('x' + '\n'.repeat(k) + 'y');
  add('\t'.repeat(k) + 'int x;');
  add(' '.repeat(k) + 'word');
  add('word' + ' '.repeat(k));
  add('\r\n'.repeat(k));
  add('\u2581'.repeat(k));
  add('end.' + '\n'.repeat(k % 7 + 1) + ' '.repeat(k) + 'start');
}
for (const s of [' \t\n', '\n \n', '\t \t', ' \n\t\r', '\r', '\r\r\n', '\n\r', '\u000b\u000c', ' \u2581 ',
  '\u2581\u2581 ', ' \u2581\u2581', 'a \u2581b', '\u2581hello', 'hello\u2581world', '  \n  \n  ',
  '\n\n\n\t\t\t   ', 'line1\r\nline2\r\n\r\nline4', ' leading', 'trailing ', '  both  ',
  '\u00a0\u00a0', '\u3000\u3000', ' \u00a0 ', '\t\n\t\n', '\n'.repeat(31) + 'x', '\n'.repeat(32),
  '\n'.repeat(62) + '!', '\t'.repeat(31), '\t'.repeat(33), ' '.repeat(31), ' '.repeat(32),
  ' '.repeat(62), ' '.repeat(63), ' '.repeat(93)]) add(s);

// ---- special-token text ------------------------------------------------
const chat = [
  '<start_of_turn>user\nHello!<end_of_turn>\n<start_of_turn>model\n',
  '<bos><start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n4<end_of_turn>\n',
  '<start_of_tur', '<start_of_turn', 'start_of_turn>', '<end_of_turn >', '< end_of_turn>',
  '<start_of_<end_of_turn>turn>', '<<bos>>', '<bos<eos>>', '<bos><bos><eos><pad><unk>',
  '<BOS>', '<Bos>', '<bos >', '<eos', 'eos>', '<pad>text<pad>', '<unk>?', '<mask>', '[multimodal]',
  '<mask><mask>[multimodal]<mask>', '<unused0>', '<unused1><unused99>', '<unused6241>', '<unused6242>',
  '<unused-1>', '<unused00>', '<start_of_image>', '<end_of_image>', '<start_of_image><end_of_image>',
  '<table>', '</table>', '<table >', '<TABLE>', '<h1>Title</h1>', '<h7>', '<strong><em>x</em></strong>',
  'a<b>b</b>c', '<<table>>', '</<table>', '<0x41>', '<0x0A>', '<0xFF><0x00>', '<0x4',
  'text<start_of_turn>text', '<end_of_turn><end_of_turn>', 'user\n<end_of_turn>\n\n\n<start_of_turn>',
  // ">\u2581</" is the one Gemma 3 piece with U+2581 after another character
  '> </', 'x> </y', '<p>a</p> </div>', '<b>b</b>  </i>', '>  </', '> > </ </', 'a >\u2581</b',
];
for (const s of chat) add(s);
for (const c of control) { add(c); add('x' + c + 'y'); add(' ' + c + ' '); add(c + '\n'); add(c.slice(0, -1)); add(c.slice(1)); }
for (const tg of tags) { add(tg); add('x' + tg + 'y '); add(' ' + tg + '\n'); }

// ---- byte fallback -----------------------------------------------------
const rare = [];
for (const cp of [0x20000, 0x20001, 0x2a6d6, 0x2b740, 0x2ceb0, 0x30000, 0x3134a, 0xe000, 0xe001, 0xf8ff,
  0xf0000, 0xffffd, 0x100000, 0x10fffd, 0x10ffff, 0xfffe, 0xffff, 0xfdd0, 0x1d11e, 0x1f9ff, 0x1fa70,
  0x13000, 0x10900, 0x1e900, 0x16a0, 0x0f00, 0xa000, 0xa4d0, 0x2ff0, 0x31c0, 0xe0001, 0xe007f])
  rare.push(String.fromCodePoint(cp));
for (let c = 0; c < 32; c++) rare.push(String.fromCharCode(c));
for (const c of [0x7f, 0x80, 0x85, 0x9f, 0xad, 0x34f, 0x61c, 0x180e, 0x200e, 0x200f, 0x202a, 0x202e, 0x2066, 0x2069, 0xfff9, 0xfffc, 0xfffd])
  rare.push(String.fromCharCode(c));
for (const r of rare) { add(r); add('a' + r + 'b'); add(r + r + r); add(' ' + r); }
add(rare.join(''));
add(rare.join(' '));

// ---- random mixtures ---------------------------------------------------
const ranges = [[0x20, 0x7e], [0xa0, 0x24f], [0x370, 0x3ff], [0x400, 0x4ff], [0x590, 0x5ff],
  [0x600, 0x6ff], [0x900, 0x97f], [0xe00, 0xe7f], [0x3040, 0x30ff], [0x4e00, 0x9fff],
  [0xac00, 0xd7a3], [0x1f300, 0x1f6ff], [0x1f900, 0x1f9ff], [0x20000, 0x2a6df], [0xe000, 0xf8ff],
  [0x2000, 0x206f], [0x2190, 0x23ff], [0x0, 0x1f]];
function randChars(n) {
  const [lo, hi] = pick(ranges);
  let s = '';
  for (let i = 0; i < n; i++) {
    const r = rnd() < 0.8 ? [lo, hi] : pick(ranges);
    let cp = r[0] + ri(r[1] - r[0] + 1);
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0x41;
    s += String.fromCodePoint(cp);
  }
  return s;
}
function slice(s) {
  const cps = Array.from(s);
  const a = ri(cps.length), b = a + 1 + ri(cps.length - a);
  return cps.slice(a, b).join('');
}
const ws = [' ', '  ', '   ', '\n', '\n\n', '\t', ' \n', '\r\n', '    ', '\u2581', ''];
const fragments = [...sentences, ...code, ...chat, ...tags, ...control, ...rare, '<mask>', '[multimodal]'];
while (out.length < 2600) {
  const k = 1 + ri(5);
  let s = '';
  for (let i = 0; i < k; i++) {
    const r = rnd();
    if (r < 0.45) s += slice(pick(fragments));
    else if (r < 0.6) s += pick(fragments);
    else if (r < 0.85) s += randChars(1 + ri(12));
    else s += pick(added.slice(0, 300));
    s += pick(ws);
  }
  add(s);
}

// ---- long inputs and the empty string ------------------------------------
add('');
add({repeat: 'The quick brown fox jumps over the lazy dog. ', times: 2300});
add({repeat: sentences.slice(0, 40).join('\n') + '\n', times: 40});
add({repeat: '你好，世界！こんにちは 안녕하세요 😀👨‍👩‍👧 ', times: 2000});
add({repeat: 'a  b   c    d\t\te\n', times: 6000});
add({repeat: 'x', times: 100000});
add({repeat: code.join('\n'), times: 25});

for (const s of out) process.stdout.write(JSON.stringify(s) + '\n');
