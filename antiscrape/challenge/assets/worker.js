/*
 * antiscrape proof-of-work worker.
 *
 * Finds a decimal nonce such that SHA-256("<seed>:<nonce>") starts with `difficulty` zero
 * bits. The server checks an answer with one hash of the same string. WebCrypto is available
 * when the page is a secure context (HTTPS or localhost); elsewhere `crypto.subtle` is missing
 * and a plain-JavaScript SHA-256 takes over, so the check works on every browser with workers.
 *
 * Messages in:  {type: "solve", seed, difficulty, start, step, engine: "auto"|"subtle"|"js"}
 *               ("auto" times a short probe of both and keeps the faster one)
 *               {type: "digest", text, engine}   (self-test: hex digest of `text`)
 * Messages out: {type: "progress", hashes}
 *               {type: "done", nonce, hashes, engine, ms}
 *               {type: "digest", hex, engine}
 *               {type: "error", message}
 */
"use strict";

var K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
]);
var H0 = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
          0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
var W = new Uint32Array(64);

/* One SHA-256 compression of the 16-word block `m` into the eight-word state `h`. */
function compress(h, m) {
  var t, t1, t2;
  for (t = 0; t < 16; t++) W[t] = m[t];
  for (t = 16; t < 64; t++) {
    var x = W[t - 15], y = W[t - 2];
    var s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    var s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    W[t] = (W[t - 16] + s0 + W[t - 7] + s1) | 0;
  }
  var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
  for (t = 0; t < 64; t++) {
    var S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    var ch = (e & f) ^ (~e & g);
    t1 = (hh + S1 + ch + K[t] + W[t]) | 0;
    var S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    var maj = (a & b) ^ (a & c) ^ (b & c);
    t2 = (S0 + maj) | 0;
    hh = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
  }
  h[0] = (h[0] + a) | 0; h[1] = (h[1] + b) | 0; h[2] = (h[2] + c) | 0;
  h[3] = (h[3] + d) | 0; h[4] = (h[4] + e) | 0; h[5] = (h[5] + f) | 0;
  h[6] = (h[6] + g) | 0; h[7] = (h[7] + hh) | 0;
}

/* Plain-JavaScript SHA-256 of an ASCII string; returns the eight state words. */
function sha256Words(text) {
  var len = text.length;
  var blocks = ((len + 8) >> 6) + 1;
  var msg = new Int32Array(blocks * 16);
  for (var i = 0; i < len; i++) {
    msg[i >> 2] |= (text.charCodeAt(i) & 0xff) << (24 - (i & 3) * 8);
  }
  msg[len >> 2] |= 0x80 << (24 - (len & 3) * 8);
  msg[blocks * 16 - 1] = len * 8;
  var h = new Int32Array(H0);
  for (var b = 0; b < blocks; b++) compress(h, msg.subarray(b * 16, b * 16 + 16));
  return h;
}

/* The fast path of the search: "<seed>:<nonce>" fits one block, so the padded block is
   rebuilt in place for each nonce and nothing is allocated per hash. */
var BLOCK = new Uint8Array(64);
var M = new Int32Array(16);
var STATE = new Int32Array(8);

function firstWordOneBlock(prefixLength, digits) {
  var len = prefixLength + digits.length, i;
  for (i = 0; i < digits.length; i++) BLOCK[prefixLength + i] = digits.charCodeAt(i);
  BLOCK[len] = 0x80;
  for (i = len + 1; i < 62; i++) BLOCK[i] = 0;
  BLOCK[62] = (len * 8) >>> 8;
  BLOCK[63] = (len * 8) & 0xff;
  for (i = 0; i < 16; i++) {
    M[i] = (BLOCK[4 * i] << 24) | (BLOCK[4 * i + 1] << 16) | (BLOCK[4 * i + 2] << 8) |
           BLOCK[4 * i + 3];
  }
  STATE.set(H0);
  compress(STATE, M);
  return STATE[0];
}

function hasZeroBits(firstWord, difficulty) {
  return difficulty <= 0 || (firstWord >>> (32 - difficulty)) === 0;
}

function toHex(words) {
  var out = "";
  for (var i = 0; i < words.length; i++) out += ("00000000" + (words[i] >>> 0).toString(16)).slice(-8);
  return out;
}

function subtleAvailable() {
  return !!(self.crypto && self.crypto.subtle && self.crypto.subtle.digest);
}

var PROGRESS_EVERY = 4096;

function solveJs(job) {
  var prefix = job.seed + ":";
  var oneBlock = prefix.length + 20 <= 55;
  for (var i = 0; i < prefix.length && oneBlock; i++) BLOCK[i] = prefix.charCodeAt(i) & 0xff;
  var nonce = job.start, hashes = 0, word;
  for (;;) {
    hashes++;
    word = oneBlock ? firstWordOneBlock(prefix.length, String(nonce))
                    : sha256Words(prefix + nonce)[0];
    if (hasZeroBits(word, job.difficulty)) return {nonce: nonce, hashes: hashes};
    if (job.limit && hashes >= job.limit) return null;
    nonce += job.step;
    if (hashes % PROGRESS_EVERY === 0) self.postMessage({type: "progress", hashes: hashes});
  }
}

var BATCH = 512;

/* Writes the decimal digits of `n` into `buf` from `at`; returns the end offset. */
function writeDigits(buf, at, n) {
  var digits = String(n);
  for (var i = 0; i < digits.length; i++) buf[at + i] = digits.charCodeAt(i);
  return at + digits.length;
}

/* WebCrypto digests are promises: many are started at once so their overhead overlaps. The
   input is copied when digest() is called, so one buffer serves every nonce. */
async function solveSubtle(job) {
  var prefix = new TextEncoder().encode(job.seed + ":");
  var buf = new Uint8Array(prefix.length + 20);
  buf.set(prefix);
  var nonce = job.start, hashes = 0;
  var nonces = new Array(BATCH), pending = new Array(BATCH);
  for (;;) {
    for (var i = 0; i < BATCH; i++) {
      nonces[i] = nonce;
      pending[i] = self.crypto.subtle.digest("SHA-256",
                                             buf.subarray(0, writeDigits(buf, prefix.length, nonce)));
      nonce += job.step;
    }
    var digests = await Promise.all(pending);
    for (var j = 0; j < BATCH; j++) {
      if (hasZeroBits(new DataView(digests[j]).getUint32(0), job.difficulty)) {
        return {nonce: nonces[j], hashes: hashes + j + 1};
      }
    }
    hashes += BATCH;
    if (job.limit && hashes >= job.limit) return null;
    if (hashes % PROGRESS_EVERY === 0) self.postMessage({type: "progress", hashes: hashes});
  }
}

var PROBE = 4096;

/* "auto": WebCrypto's digest is native but costs a promise per hash, which for inputs this
   short can outweigh the hashing itself; a short timed probe of both on this very device
   picks the faster. The plain-JavaScript probe runs twice, timed once its code is compiled,
   or the JIT's warm-up would be counted against it. Without WebCrypto (insecure context)
   plain JavaScript is the only way. */
async function pickEngine(job) {
  if (!subtleAvailable()) return "js";
  if (job.engine === "js" || job.engine === "subtle") return job.engine;
  var probe = {seed: job.seed + "~probe", difficulty: 32, start: 0, step: 1, limit: PROBE};
  solveJs(probe);
  var t0 = performance.now();
  solveJs(probe);
  var t1 = performance.now();
  await solveSubtle(probe);
  var t2 = performance.now();
  return t1 - t0 <= t2 - t1 ? "js" : "subtle";
}

async function digestHex(text, engine) {
  if (engine === "subtle") {
    var buf = await self.crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
    var view = new DataView(buf), words = [];
    for (var i = 0; i < 8; i++) words.push(view.getUint32(i * 4));
    return toHex(words);
  }
  return toHex(sha256Words(text));
}

self.onmessage = async function (event) {
  var job = event.data || {};
  try {
    if (job.type === "digest") {
      var which = job.engine === "js" || !subtleAvailable() ? "js" : "subtle";
      self.postMessage({type: "digest", hex: await digestHex(String(job.text), which),
                        engine: which});
      return;
    }
    var started = Date.now();
    var engine = await pickEngine(job);
    job.limit = 0;  /* no limit: search until found */
    var found = engine === "subtle" ? await solveSubtle(job) : solveJs(job);
    self.postMessage({type: "done", nonce: found.nonce, hashes: found.hashes, engine: engine,
                      ms: Date.now() - started});
  } catch (err) {
    self.postMessage({type: "error", message: String(err && err.message || err)});
  }
};
