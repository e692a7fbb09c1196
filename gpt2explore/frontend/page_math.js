// gpt2explore pages: the draw's arithmetic in the browser (double precision, the registry's stage order).
// A step stores its top tokens' raw logits (ids, logits) and the rest of the vocabulary in groups
// (tail: n, lo, hi, s = sum(exp(logit - hi))). Every stage decides each stored token and each group:
// kept (K), cut (C) or, when what is stored cannot decide it, maybe (M). A group's mass at temperature T
// lies between two provable values (Jensen's inequality and the chord of x^(1/T)), so every probability
// comes with an interval; where nothing is uncertain the result is exact.
(function () {
  "use strict";
  var GX = (window.GX = window.GX || {});
  if (GX.math) return;
  var K = 1, C = 0, M = 2;
  var SLACK = 1e-12; // relative slack on the provable bounds (rounding of the sums)
  // Where a probability is approximate, its interval is widened outward by this relative amount: the
  // page's own divisions and Python's float64 softmax each round, and an interval proved in exact
  // arithmetic could otherwise miss Python's value by an ulp or two. Exact values are never touched.
  var ROUND = 64 * Math.pow(2, -52);
  function down(x) { return x * (1 - ROUND); }
  function up(x) { return Math.min(1, x * (1 + ROUND)); }
  var TIE = 1e-12; // probabilities this close (relative) may tie, or not, by the last bits of exp and the sums

  function decode(text, Type) {
    var raw = atob(text), bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return new Type(bytes.buffer);
  }

  // a step's stored arrays, decoded once
  function unpack(step) {
    if (step._u) return step._u;
    var t = step.tail;
    step._u = {
      ids: decode(step.ids, Int32Array), logits: decode(step.logits, Float32Array), own: decode(step.own, Float64Array),
      n: decode(t.n, Int32Array), lo: decode(t.lo, Float32Array), hi: decode(t.hi, Float32Array), s: decode(t.s, Float64Array),
      gown: decode(t.own, Float64Array)
    };
    return step._u;
  }

  // sum of x^q over a group with n values x in [xa, 1] summing to s: [lower, upper]
  function powerBounds(n, xa, s, q) {
    if (q === 1) return [s, s];
    if (n === 0) return [0, 0];
    var jensen = n * Math.pow(s / n, q);
    if (!(xa < 1)) return [jensen, jensen]; // every value the same
    var xaq = Math.pow(xa, q), chord = n * xaq + (1 - xaq) / (1 - xa) * (s - n * xa);
    return q > 1 ? [Math.min(jensen, chord), Math.max(jensen, chord)] : [Math.min(chord, jensen), Math.max(chord, jensen)];
  }

  function bannedNgram(ctx, n) {
    var out = {};
    if (n <= 0 || ctx.length < n) return out;
    var prefix = ctx.slice(ctx.length - n + 1);
    for (var i = 0; i + n <= ctx.length; i++) {
      var same = true;
      for (var j = 0; j < n - 1; j++) if (ctx[i + j] !== prefix[j]) { same = false; break; }
      if (same) out[ctx[i + n - 1]] = true;
    }
    return out;
  }

  // Working memory: one distribution() takes its arrays as views of one buffer, given back when the
  // next call starts (allocating a typed array costs about a microsecond, a view of a buffer
  // almost nothing, and a text of 300 tokens makes some 15,000 of them per settings change).
  function Arena(Type, size) { this.Type = Type; this.buf = new Type(size); this.at = 0; }
  Arena.prototype.take = function (n) { // n zeros (a fresh buffer when this one is full: earlier views stay valid)
    if (this.at + n > this.buf.length) { this.buf = new this.Type(Math.max(2 * this.buf.length, 2 * n)); this.at = 0; }
    var a = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return a.fill(0);
  };
  var F64 = new Arena(Float64Array, 1 << 15), U8 = new Arena(Uint8Array, 1 << 12);
  function f64(n) { return F64.take(n); }
  function u8(n) { return U8.take(n); }

  // The state of one step under settings: stored tokens (z, st) and groups (raw lo/hi/s, scale q, st)
  function State(step, ctx) {
    var u = unpack(step), m = u.ids.length, g = u.n.length;
    this.m = m; this.g = g; this.ids = u.ids;
    this.z = f64(m); this.st = u8(m);
    for (var i = 0; i < m; i++) { this.z[i] = u.logits[i]; this.st[i] = K; }
    this.gn = u.n; this.glo = u.lo; this.ghi = u.hi; this.gs = u.s; this.gst = u8(g);
    for (var b = 0; b < g; b++) this.gst[b] = K;
    this.q = 1; this.lost = false; this.ctx = ctx;
  }
  State.prototype.zlo = function (b) { return this.glo[b] * this.q; };
  State.prototype.zhi = function (b) { return this.ghi[b] * this.q; };
  State.prototype.ref = function () { // the largest live stored value (masses are exp(z - ref))
    var r = -Infinity;
    for (var i = 0; i < this.m; i++) if (this.st[i] !== C && this.z[i] > r) r = this.z[i];
    for (var b = 0; b < this.g; b++) if (this.gst[b] !== C && this.zhi(b) > r) r = this.zhi(b);
    return r;
  };
  State.prototype.masses = function () { // e (stored), [mlo, mhi] (groups) relative to ref
    var ref = this.ref(), e = f64(this.m), mlo = f64(this.g), mhi = f64(this.g);
    for (var i = 0; i < this.m; i++) e[i] = this.st[i] === C ? 0 : Math.exp(this.z[i] - ref);
    for (var b = 0; b < this.g; b++) {
      if (this.gst[b] === C) continue;
      var xa = Math.exp(this.glo[b] - this.ghi[b]), pb = powerBounds(this.gn[b], xa, this.gs[b], this.q);
      var scale = Math.exp(this.zhi(b) - ref);
      mlo[b] = pb[0] * scale * (1 - SLACK); mhi[b] = pb[1] * scale * (1 + SLACK);
      if (this.gst[b] === M) mlo[b] = 0;
      if (this.q === 1) { mlo[b] = pb[0] * scale; mhi[b] = mlo[b]; if (this.gst[b] === M) mlo[b] = 0; }
    }
    return { ref: ref, e: e, mlo: mlo, mhi: mhi };
  };
  State.prototype.topStored = function () { // the stored token with the largest live value (lowest id on ties)
    var best = -1;
    for (var i = 0; i < this.m; i++) {
      if (this.st[i] === C) continue;
      if (best < 0 || this.z[i] > this.z[best] || (this.z[i] === this.z[best] && this.ids[i] < this.ids[best])) best = i;
    }
    return best;
  };
  State.prototype.tailTop = function () { // the largest value a live group may hold
    var r = -Infinity;
    for (var b = 0; b < this.g; b++) if (this.gst[b] !== C && this.zhi(b) > r) r = this.zhi(b);
    return r;
  };
  State.prototype.groups = function () { // the live groups: index, scaled bottom and top, count, certainly kept
    var out = { b: [], zlo: [], zhi: [], n: [], kept: [] };
    for (var b = this.g - 1; b >= 0; b--) { // the groups are stored from the largest down: this gives them ascending
      if (this.gst[b] === C) continue;
      out.b.push(b); out.zlo.push(this.zlo(b)); out.zhi.push(this.zhi(b)); out.n.push(this.gn[b]); out.kept.push(this.gst[b] === K);
    }
    return out;
  };
  State.prototype.storedSums = function (weight, keptOnly) { // Sums of the live (or certainly kept) stored tokens by value
    var keys = [], w = [];
    for (var i = this.m - 1; i >= 0; i--) { // stored from the likeliest down: ascending, unless a stage reordered them
      if (this.st[i] === C || (keptOnly && this.st[i] !== K)) continue;
      keys.push(this.z[i]); w.push(weight(i));
    }
    return new Sums(keys, w);
  };
  State.prototype.cutStored = function (i) { this.st[i] = C; };
  State.prototype.decide = function (i, kept, cut) { // a stored token: certainly kept / certainly cut / else maybe
    if (this.st[i] === C) return;
    if (cut) this.st[i] = C; else if (!kept) this.st[i] = M;
  };
  State.prototype.decideGroup = function (b, kept, cut) {
    if (this.gst[b] === C) return;
    if (cut) this.gst[b] = C; else if (!kept) this.gst[b] = M;
  };

  // Sums by key (keys given in ascending order skip the sort): for a value x, the total weight of the items whose key is above x (>), at least x
  // (>=), below x (<) or at most x (<=); one sort, then running sums from each end, so that no sum is
  // ever taken by subtraction. `only` (optional, per item) leaves the items it marks false out.
  function Sums(keys, weights, only) {
    var idx = [], i, sorted = true;
    for (i = 0; i < keys.length; i++) {
      if (only && !only[i]) continue;
      if (idx.length && keys[i] < keys[idx[idx.length - 1]]) sorted = false;
      idx.push(i);
    }
    if (!sorted) idx.sort(function (a, b) { return keys[a] < keys[b] ? -1 : keys[a] > keys[b] ? 1 : 0; });
    var n = idx.length;
    this.n = n; this.k = f64(n); this.up = f64(n + 1); this.down = f64(n + 1);
    for (i = 0; i < n; i++) { this.k[i] = keys[idx[i]]; this.up[i + 1] = this.up[i] + weights[idx[i]]; }
    for (i = n - 1; i >= 0; i--) this.down[i] = this.down[i + 1] + weights[idx[i]];
  }
  Sums.prototype.first = function (x, strict) { // the first sorted place whose key is > x (strict) or >= x
    var lo = 0, hi = this.n;
    if (hi === 0 || x < this.k[0]) return 0; // below every key, or above them all: the usual case of the
    if (x > this.k[hi - 1]) return hi;       // stored tokens against the groups of the rest
    while (lo < hi) { var mid = (lo + hi) >> 1; if (strict ? this.k[mid] <= x : this.k[mid] < x) lo = mid + 1; else hi = mid; }
    return lo;
  };
  Sums.prototype.above = function (x) { return this.down[this.first(x, true)]; };
  Sums.prototype.atLeast = function (x) { return this.down[this.first(x, false)]; };
  Sums.prototype.below = function (x) { return this.up[this.first(x, false)]; };
  Sums.prototype.atMost = function (x) { return this.up[this.first(x, true)]; };

  var STAGES = {
    repetition_penalty: function (s, pen) {
      var seen = {};
      for (var j = 0; j < s.ctx.length; j++) seen[s.ctx[j]] = true;
      for (var i = 0; i < s.m; i++) if (seen[s.ids[i]]) s.z[i] = s.z[i] < 0 ? s.z[i] * pen : s.z[i] / pen;
    },
    no_repeat_ngram_size: function (s, n) {
      var banned = bannedNgram(s.ctx, n);
      for (var i = 0; i < s.m; i++) if (banned[s.ids[i]]) s.z[i] = -Infinity, s.st[i] = C;
    },
    temperature: function (s, t) {
      var over = false, i, b;
      if (t !== 0 && t !== 1) {
        for (i = 0; i < s.m && !over; i++) if (isFinite(s.z[i]) && !isFinite(s.z[i] / t)) over = true;
        for (b = 0; b < s.g && !over; b++) if (!isFinite(s.glo[b] / t) || !isFinite(s.ghi[b] / t)) over = true;
      }
      if (t === 0 || over) return greedy(s);
      if (t === 1) return;
      for (i = 0; i < s.m; i++) s.z[i] = s.z[i] / t;
      s.q = s.q / t;
    },
    top_k: function (s, k) { // how many tokens may lie above each one (any live) / certainly do (kept)
      var i, b, ones = strata(s, function () { return 1; }), gr = s.groups();
      var byTop = new Sums(gr.zhi, gr.n), byLowKept = new Sums(gr.zlo, gr.n, gr.kept);
      var hi = f64(s.m), lo = f64(s.m);
      for (i = 0; i < s.m; i++) {
        if (s.st[i] === C) continue;
        hi[i] = ones.gtAll[i] + byTop.above(s.z[i]);
        lo[i] = ones.gtK[i] + byLowKept.above(s.z[i]);
      }
      for (i = 0; i < s.m; i++) if (s.st[i] !== C) s.decide(i, hi[i] < k, lo[i] >= k);
      var gdec = [], live, kept;
      if (gr.b.length) { live = s.storedSums(function () { return 1; }, false); kept = s.storedSums(function () { return 1; }, true); } // for the groups only
      for (var a = 0; a < gr.b.length; a++) {
        b = gr.b[a];
        var zb = gr.zlo[a], zt = gr.zhi[a];
        // tokens above the group's lowest (its own others, any live token, other groups reaching above it)
        var bottom = s.gn[b] - 1 + live.above(zb) + byTop.above(zb) - (zt > zb ? s.gn[b] : 0);
        var top = kept.above(zt) + byLowKept.above(zt); // tokens certainly above the group's highest
        gdec[b] = [bottom < k, top >= k];
      }
      for (b = 0; b < s.g; b++) if (gdec[b]) s.decideGroup(b, gdec[b][0], gdec[b][1]);
    },
    top_p: function (s, p, semantics) { nucleus(s, p, semantics === "openai"); },
    min_p: function (s, p) {
      var ms = s.masses(), top = s.topStored(), tail = s.tailTop(), i, b;
      if (top < 0) { s.lost = true; return; }
      var maxLo = Math.exp(s.z[top] - ms.ref), maxHi = Math.exp(Math.max(s.z[top], tail) - ms.ref);
      var sure = s.st[top] === K && s.z[top] > tail;
      for (i = 0; i < s.m; i++) {
        if (s.st[i] === C || (sure && i === top)) continue;
        s.decide(i, ms.e[i] >= p * maxHi, ms.e[i] < p * maxLo);
      }
      for (b = 0; b < s.g; b++) {
        if (s.gst[b] === C) continue;
        s.decideGroup(b, Math.exp(s.zlo(b) - ms.ref) >= p * maxHi, Math.exp(s.zhi(b) - ms.ref) < p * maxLo);
      }
    },
    typical_p: function (s, mass) { typical(s, mass); },
    epsilon_cutoff: function (s, eps) { threshold(s, s.masses(), eps, eps); },
    eta_cutoff: function (s, eta) { // epsilon's rule at min(eta, sqrt(eta) exp(-H)); H, the entropy here, is bounded
      var ms = s.masses(), h = entropyBounds(s, ms);
      threshold(s, ms, Math.min(eta, Math.sqrt(eta) * Math.exp(-h[1])), Math.min(eta, Math.sqrt(eta) * Math.exp(-h[0])));
    }
  };

  // Drop the tokens whose probability is below a threshold known to lie in [lo, hi] (the top stays)
  function threshold(s, ms, lo, hi) {
    var top = s.topStored(), tail = s.tailTop(), i, b, t = spread(s, ms), zl = t.zl, zh = t.zh;
    var sure = top >= 0 && s.st[top] === K && s.z[top] > tail;
    for (i = 0; i < s.m; i++) {
      if (s.st[i] === C || (sure && i === top)) continue;
      var own = s.st[i] === K ? zl : zl + ms.e[i];
      s.decide(i, ms.e[i] / zh >= hi, ms.e[i] / own < lo);
    }
    for (b = 0; b < s.g; b++) {
      if (s.gst[b] === C) continue;
      var et = Math.exp(s.zhi(b) - ms.ref), eb = Math.exp(s.zlo(b) - ms.ref);
      var without = zl - (s.gst[b] === K ? ms.mlo[b] : 0);
      s.decideGroup(b, eb / zh >= hi, et / (without + et) < lo);
    }
  }

  // What the stages have left, in bounds: Z (the live mass) in [zl, zh], and the sum of e (ref - z)
  // over the live tokens in [nLo, nHi] (each term by what is certainly kept and what may be; a
  // group's values lie between its bottom and its top)
  function spread(s, ms) {
    var out = { zl: 0, zh: 0, nLo: 0, nHi: 0 }, i, b;
    for (i = 0; i < s.m; i++) {
      if (s.st[i] === C) continue;
      var w = ms.e[i] * (ms.ref - s.z[i]);
      if (s.st[i] === K) { out.zl += ms.e[i]; out.nLo += w; }
      out.zh += ms.e[i]; out.nHi += w;
    }
    for (b = 0; b < s.g; b++) {
      if (s.gst[b] === C) continue;
      out.zl += ms.mlo[b]; out.zh += ms.mhi[b];
      out.nLo += ms.mlo[b] * (ms.ref - s.zhi(b)); out.nHi += ms.mhi[b] * (ms.ref - s.zlo(b));
    }
    return out;
  }
  function widen(lo, hi) { return [lo - SLACK * (1 + Math.abs(lo)), hi + SLACK * (1 + Math.abs(hi))]; }

  // [lo, hi] of the entropy (nats): H = log Z + sum(e (ref - z)) / Z
  function entropyBounds(s, ms) {
    var t = spread(s, ms);
    if (!(t.zl > 0)) return [0, Infinity];
    var h = widen(Math.log(t.zl) + t.nLo / t.zh, Math.log(t.zh) + t.nHi / t.zl);
    return [Math.max(0, h[0]), h[1]];
  }

  // typical (transformers' TypicalLogitsWarper): a token's score is |surprisal - entropy|, which is
  // |d - D| for its depth d = ref - z and the mean depth D = sum(p d); the tokens are taken by
  // score, and one is dropped when the mass taken before it is >= the mass asked (hf's top-p
  // rule on another order). With D in bounds, each score is an interval: a token certainly ahead
  // of another has its highest score below the other's lowest.
  function typical(s, mass) {
    var ms = s.masses(), t = spread(s, ms);
    if (!(t.zl > 0)) return; // nothing is certainly kept: nothing is decided
    var D = widen(t.nLo / t.zh, t.nHi / t.zl), items = [], i, b;
    function score(dLo, dHi) { // the lowest and highest |d - D| for d in [dLo, dHi], D in bounds
      var gap = Math.max(0, dLo - D[1], D[0] - dHi);
      return [gap, Math.max(Math.abs(dHi - D[0]), Math.abs(dLo - D[1]), Math.abs(dHi - D[1]), Math.abs(dLo - D[0]))];
    }
    for (i = 0; i < s.m; i++) if (s.st[i] !== C) {
      var d = ms.ref - s.z[i], sc = score(d, d);
      items.push({ i: i, b: -1, lo: sc[0], hi: sc[1], wLo: s.st[i] === K ? ms.e[i] : 0, wHi: ms.e[i] });
    }
    for (b = 0; b < s.g; b++) if (s.gst[b] !== C) {
      var gsc = score(ms.ref - s.zhi(b), ms.ref - s.zlo(b));
      items.push({ i: -1, b: b, lo: gsc[0], hi: gsc[1], wLo: s.gst[b] === K ? ms.mlo[b] : 0, wHi: ms.mhi[b] });
    }
    var los = items.map(function (x) { return x.lo; }), his = items.map(function (x) { return x.hi; });
    var wLo = items.map(function (x) { return x.wLo; }), wHi = items.map(function (x) { return x.wHi; });
    var surelyByHi = new Sums(his, wLo), maybeByLo = new Sums(los, wHi), surelyByLo = new Sums(los, wLo), maybeByHi = new Sums(his, wHi);
    var dec = items.map(function (x) {
      var aLo = surelyByHi.below(x.lo), aHi = maybeByLo.atMost(x.hi); // the mass taken before it
      var bLo = surelyByLo.above(x.hi), bHi = maybeByHi.atLeast(x.lo); // the mass taken after it
      if (x.b < 0) { // a stored token: its own mass apart (it is counted in aHi and bHi)
        var e = ms.e[x.i];
        aHi = Math.max(0, aHi - e); bHi = Math.max(0, bHi - e);
        return [aHi / (aHi + e + bLo) < mass, aLo / (aLo + e + bHi) >= mass];
      }
      // a group: kept if even with all of it counted before its worst token too little comes first;
      // cut if what certainly comes before its best token is enough of everything that may be live
      return [aHi / (aHi + bLo) < mass, aLo / t.zh >= mass];
    });
    items.forEach(function (x, k) {
      if (x.b < 0) s.decide(x.i, dec[k][0], dec[k][1]); else s.decideGroup(x.b, dec[k][0], dec[k][1]);
    });
  }

  // For each live stored token, the weight of the other live stored tokens above it (gt), level with it
  // (eq) and below it (lt), all of them (All) and the certainly kept ones (K): one sort, then sums.
  function strata(s, weight) {
    var m = s.m, idx = new Int32Array(m), n = 0, i, a, b;
    var sorted = true; // a live row comes from the likeliest down: no sort needed unless a stage reordered it
    for (i = 0; i < m; i++) if (s.st[i] !== C) { if (n && s.z[i] > s.z[idx[n - 1]]) sorted = false; idx[n++] = i; }
    idx = idx.subarray(0, n);
    if (!sorted) idx.sort(function (x, y) { return s.z[y] - s.z[x]; });
    var gtK = f64(m), gtAll = f64(m), eqAll = f64(m), ltK = f64(m), ltAll = f64(m), w = f64(m);
    var totK = 0, totAll = 0, accK = 0, accAll = 0;
    for (a = 0; a < n; a++) { var j0 = idx[a]; w[j0] = weight(j0); totAll += w[j0]; if (s.st[j0] === K) totK += w[j0]; }
    for (a = 0; a < n; a = b) {
      var blockK = 0, blockAll = 0, za = s.z[idx[a]];
      for (b = a; b < n && s.z[idx[b]] === za; b++) { var wb = w[idx[b]]; blockAll += wb; if (s.st[idx[b]] === K) blockK += wb; }
      for (var c = a; c < b; c++) {
        var j = idx[c];
        gtK[j] = accK; gtAll[j] = accAll; eqAll[j] = blockAll - w[j];
        ltK[j] = totK - accK - blockK; ltAll[j] = totAll - accAll - blockAll;
      }
      accK += blockK; accAll += blockAll;
    }
    return { gtK: gtK, gtAll: gtAll, eqAll: eqAll, ltK: ltK, ltAll: ltAll };
  }

  function greedy(s) { // temperature 0: all probability on the first maximum
    var top = s.topStored(), tail = s.tailTop();
    if (top < 0 || !(s.z[top] > tail) || s.st[top] !== K) { s.lost = true; return; }
    for (var i = 0; i < s.m; i++) if (i !== top) s.cutStored(i);
    for (var b = 0; b < s.g; b++) s.gst[b] = C;
    s.z[top] = 0; s.q = 1;
  }

  // top-p: hf drops the tokens whose mass ahead of them is >= p (the token that crosses p stays);
  // openai keeps those whose mass ahead plus their own is <= p. The likeliest always stays.
  function nucleus(s, p, openai) {
    var ms = s.masses(), top = s.topStored(), tail = s.tailTop(), i, b;
    var sure = top >= 0 && s.st[top] === K && s.z[top] > tail;
    var pl = p * (1 - TIE), ph = p * (1 + TIE); // within rounding of p, the last bits decide: maybe
    function verdict(aLo, aHi, e, bLo, bHi) { // [kept, cut] from the mass ahead (a), own (e) and behind (b)
      if (openai) return [(aHi + e) / (aHi + e + bLo) <= pl, (aLo + e) / (aLo + e + bHi) > ph];
      return [aHi / (aHi + e + bLo) < pl, aLo / (aLo + e + bHi) >= ph];
    }
    var gdec = [], gr = s.groups(), a;
    var mass = strata(s, function (j) { return ms.e[j]; });
    var mlo = gr.b.map(function (b) { return ms.mlo[b]; }), mhi = gr.b.map(function (b) { return ms.mhi[b]; });
    var loByLow = new Sums(gr.zlo, mlo), hiByTop = new Sums(gr.zhi, mhi), loByTop = new Sums(gr.zhi, mlo), hiByLow = new Sums(gr.zlo, mhi);
    var loByLowKept = new Sums(gr.zlo, mlo, gr.kept), loByTopKept = new Sums(gr.zhi, mlo, gr.kept);
    var keep = u8(s.m), cut = u8(s.m), seen = u8(s.m); // each stored token's verdict, in flat arrays (a live row has 50,257)
    for (i = 0; i < s.m; i++) { // a group wholly above the token is ahead of it, wholly below behind, straddling it both
      if (s.st[i] === C) continue;
      var z = s.z[i], e = ms.e[i];
      var aLo = mass.gtK[i] + loByLow.above(z), aHi = mass.gtAll[i] + mass.eqAll[i] + hiByTop.atLeast(z);
      var bLo = mass.ltK[i] + loByTop.below(z), bHi = mass.ltAll[i] + mass.eqAll[i] + hiByLow.atMost(z);
      seen[i] = 1; // verdict(aLo, aHi, e, bLo, bHi), written out
      if (openai) { keep[i] = (aHi + e) / (aHi + e + bLo) <= pl ? 1 : 0; cut[i] = (aLo + e) / (aLo + e + bHi) > ph ? 1 : 0; }
      else { keep[i] = aHi / (aHi + e + bLo) < pl ? 1 : 0; cut[i] = aLo / (aLo + e + bHi) >= ph ? 1 : 0; }
    }
    var eLive, eKept; // for the groups only (a live row of the whole vocabulary has none)
    if (gr.b.length) { eLive = s.storedSums(function (j) { return ms.e[j]; }, false); eKept = s.storedSums(function (j) { return ms.e[j]; }, true); }
    for (a = 0; a < gr.b.length; a++) { // the group's top token and its bottom token
      b = gr.b[a];
      var zt = gr.zhi[a], zb = gr.zlo[a], et = Math.exp(zt - ms.ref), eb = Math.exp(zb - ms.ref);
      var tLo = eKept.above(zt) + loByLowKept.above(zt), tBehind = eLive.atMost(zt) + hiByLow.atMost(zt);
      var bAhead = eLive.above(zb) + hiByTop.above(zb) + (zt > zb ? 0 : ms.mhi[b]);
      var bBehind = eKept.below(zb) + loByTopKept.below(zb);
      var topV = verdict(tLo, Infinity, et, 0, tBehind), botV = verdict(0, bAhead, eb, bBehind, Infinity);
      gdec[b] = [botV[0], topV[1]];
    }
    for (i = 0; i < s.m; i++) if (seen[i] && !(sure && i === top)) s.decide(i, keep[i] === 1, cut[i] === 1);
    for (b = 0; b < s.g; b++) if (gdec[b]) s.decideGroup(b, gdec[b][0], gdec[b][1]);
  }

  // The distribution of one step under settings (the samplers in `order`, each {name, off}).
  // Returns the stored tokens' probabilities (p, with lo/hi), how many are kept, and whether it is exact.
  // `lean`: what colouring a text needs (p, lo, hi, status, exact), without the entropy, in arrays
  // that are valid only until the next call (read them at once).
  function distribution(step, settings, order, ctx, lean) {
    F64.at = 0; U8.at = 0;
    var s = new State(step, ctx);
    for (var k = 0; k < order.length; k++) {
      var spec = order[k], v = settings[spec.name];
      if (v === undefined || v === spec.off || s.lost) continue;
      STAGES[spec.name](s, v, settings.semantics);
    }
    var ms = s.masses(), m = s.m, g = s.g, i, b, zl = 0, zh = 0, tailLo = 0, tailHi = 0, uncertain = s.lost;
    for (i = 0; i < m; i++) { if (s.st[i] === K) zl += ms.e[i]; if (s.st[i] !== C) zh += ms.e[i]; if (s.st[i] === M) uncertain = true; }
    for (b = 0; b < g; b++) {
      if (s.gst[b] === C) continue;
      tailHi += ms.mhi[b]; tailLo += ms.mlo[b];
      if (s.gst[b] === M || ms.mlo[b] !== ms.mhi[b]) uncertain = true;
    }
    zl += tailLo; zh += tailHi;
    var out = lean ? f64 : function (n) { return new Float64Array(n); };
    var p = out(m), lo = out(m), hi = out(m), bound = 0;
    for (i = 0; i < m; i++) {
      if (s.lost) { lo[i] = 0; hi[i] = 1; p[i] = NaN; continue; }
      if (s.st[i] === C) continue;
      if (!uncertain) { p[i] = ms.e[i] / zl; lo[i] = hi[i] = p[i]; continue; }
      lo[i] = s.st[i] === K ? ms.e[i] / zh : 0;
      hi[i] = Math.min(1, ms.e[i] / (s.st[i] === K ? zl : zl + ms.e[i]));
      p[i] = (lo[i] + hi[i]) / 2;
      lo[i] = down(lo[i]); hi[i] = up(hi[i]);
    }
    if (s.lost) bound = 1;
    else if (uncertain) for (i = 0; i < m; i++) bound = Math.max(bound, (hi[i] - lo[i]) / 2);
    var keptLo = 0, keptHi = 0;
    for (i = 0; i < m; i++) { if (s.st[i] === K) keptLo++; if (s.st[i] !== C) keptHi++; }
    for (b = 0; b < g; b++) { if (s.gst[b] === K) keptLo += s.gn[b]; if (s.gst[b] !== C) keptHi += s.gn[b]; }
    if (s.lost) { keptLo = 1; keptHi = null; }
    var entropy = null, entropyExact = false;
    if (!s.lost && !lean) { // the stored tokens' share exactly; a kept tail's share as if each group were flat (an estimate)
      entropy = 0; entropyExact = !uncertain && tailHi === 0;
      var zm = (zl + zh) / 2;
      for (i = 0; i < m; i++) if (p[i] > 0) entropy -= p[i] * Math.log(p[i]);
      for (b = 0; b < g; b++) {
        var mb = (ms.mlo[b] + ms.mhi[b]) / 2;
        if (s.gst[b] !== C && mb > 0) { var pb = mb / zm; entropy -= pb * Math.log(pb / s.gn[b]); }
      }
    }
    var gzlo = out(g), gzhi = out(g), gpLo = out(g), gpHi = out(g);
    for (b = 0; b < g; b++) {
      gzlo[b] = s.zlo(b); gzhi[b] = s.zhi(b);
      if (s.gst[b] === C || s.lost) { if (s.lost) gpHi[b] = 1; continue; }
      gpLo[b] = uncertain ? down(ms.mlo[b] / zh) : ms.mlo[b] / zl;
      gpHi[b] = uncertain ? up(ms.mhi[b] / zl) : gpLo[b];
    }
    return {
      gzlo: gzlo, gzhi: gzhi, gpLo: gpLo, gpHi: gpHi,
      ids: s.ids, z: lean ? s.z : s.z.slice(), p: p, lo: lo, hi: hi, exact: !uncertain, bound: bound, keptLo: keptLo, keptHi: keptHi,
      tailLo: s.lost ? 0 : uncertain ? down(tailLo / zh) : tailLo / zh,
      tailHi: s.lost ? 1 : uncertain ? up(tailHi / (zl || zh)) : Math.min(1, tailHi / (zl || zh)), tailTop: s.tailTop(),
      entropy: entropy, entropyExact: entropyExact, status: lean ? s.st : s.st.slice(), lost: s.lost
    };
  }

  // The model's own distribution (raw logits, T=1): always exact
  function raw(step) {
    var u = unpack(step), m = u.ids.length, ref = -Infinity, i, b, z = 0;
    for (i = 0; i < m; i++) ref = Math.max(ref, u.logits[i]);
    for (b = 0; b < u.n.length; b++) ref = Math.max(ref, u.hi[b]);
    var e = new Float64Array(m);
    for (i = 0; i < m; i++) { e[i] = Math.exp(u.logits[i] - ref); z += e[i]; }
    for (b = 0; b < u.n.length; b++) z += u.s[b] * Math.exp(u.hi[b] - ref);
    var p = new Float64Array(m);
    for (i = 0; i < m; i++) p[i] = e[i] / z;
    return p;
  }

  // Stored tokens in draw order: descending probability, ties by lower id
  function order(ids, p) {
    var idx = [];
    for (var i = 0; i < ids.length; i++) idx.push(i);
    idx.sort(function (a, b) { return p[b] - p[a] || ids[a] - ids[b]; });
    return idx;
  }

  // Stored tokens that may be kept in the draw's order: descending probability, ties by lower id (when
  // exact, by the probabilities themselves, which can tie where the values differ, at T >= 1e15; else by
  // value, which orders like them)
  function byValue(dist) {
    var idx = [];
    for (var i = 0; i < dist.ids.length; i++) if (dist.hi[i] > 0) idx.push(i);
    if (dist.exact) idx.sort(function (a, b) { return dist.p[b] - dist.p[a] || dist.ids[a] - dist.ids[b]; });
    else idx.sort(function (a, b) { return dist.z[b] - dist.z[a] || dist.ids[a] - dist.ids[b]; });
    return idx;
  }

  // Whether the token at place j of the draw's order is among near-ties of other values: their order, and so
  // the token u draws, then rests on the last bits of exp and the sums, which the page cannot promise
  function nearTie(dist, idx, j) {
    var a = idx[j];
    for (var d = -1; d <= 1; d += 2) {
      for (var k = j + d; k >= 0 && k < idx.length; k += d) {
        var b = idx[k];
        if (Math.abs(dist.p[a] - dist.p[b]) > TIE * Math.max(dist.p[a], dist.p[b])) break;
        if (dist.z[b] !== dist.z[a]) return true;
      }
    }
    return false;
  }

  // The token u draws: {id, sure}; id null with `beyond` when u lands on a token the page does not store.
  // The walk goes down the stored tokens by value, taking in each group of the rest once it lies wholly
  // above the next stored token; a group that straddles one ends what the stored data decide.
  function pick(dist, u) {
    var idx = byValue(dist), g = dist.gzlo.length, order = [], b, j;
    for (b = 0; b < g; b++) if (dist.gpHi[b] > 0) order.push(b);
    order.sort(function (a, c) { return dist.gzhi[c] - dist.gzhi[a]; });
    var lo = 0, hi = 0, next = 0, guess = null;
    function take(pLo, pHi, id) { // one item of the walk; returns a result when u is decided within it
      var before = hi;
      lo += pLo; hi += pHi;
      if (guess === null && u < (lo + hi) / 2) guess = id;
      if (u < lo) return before <= u ? { id: id, sure: true, beyond: id === null } : { id: guess, sure: false, beyond: guess === null };
      return null;
    }
    for (j = 0; j < idx.length; j++) {
      var i = idx[j], z = dist.z[i];
      while (next < order.length && dist.gzlo[order[next]] > z) { // a group wholly above this token
        var got = take(dist.gpLo[order[next]], dist.gpHi[order[next]], null);
        if (got) return got;
        next++;
      }
      if (next < order.length && dist.gzhi[order[next]] >= z) break; // a group straddles it: undecided from here
      var r = take(dist.lo[i], dist.hi[i], dist.ids[i]);
      if (r) { if (r.sure && nearTie(dist, idx, j)) r.sure = false; return r; }
    }
    if (j === idx.length) { // every stored token walked: what is left are groups (tokens not stored)
      for (; next < order.length; next++) { var t = take(dist.gpLo[order[next]], dist.gpHi[order[next]], null); if (t) return t; }
      if (dist.exact && idx.length && hi > 0 && u >= hi) { // rounding at the very end: the last token with mass
        if (order.length === 0) return { id: dist.ids[idx[idx.length - 1]], sure: true };
      }
    }
    return { id: guess, sure: false, beyond: guess === null };
  }

  GX.math = { decode: decode, unpack: unpack, distribution: distribution, raw: raw, pick: pick, order: order,
              powerBounds: powerBounds, bannedNgram: bannedNgram, K: K, C: C, M: M };
})();
