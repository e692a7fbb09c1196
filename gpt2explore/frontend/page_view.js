// gpt2explore pages: the explorer, compare and inspect views drawn from a page's data (no plotting library).
// Each page's root element (.gx-explorer, .gx-compare, .gx-inspect) gets a handle:
//   el.gx.set({sample, step, temperature, top_k, top_p, min_p, semantics, log, ...}) -> Promise, resolved once redrawn
//   el.gx.shown() -> {step, exact, bound, drawn, tokens: [{id, p, lo, hi}, ...], ...}: what the figure shows now
//   el.gx.draw(100) -> Promise of the frequencies of 100 fresh draws, overlaid on the bars
// The same script is the notebook widgets' front end (an anywidget module: GX.render below). There
// the kernel sends each shown step's full logits row, so every setting is exact, and the controls'
// state goes back to the kernel.
(function () {
  "use strict";
  var GX = (window.GX = window.GX || {});
  if (GX.mount) return;
  var math = GX.math;
  var RAW = "#9db7d5", KEPT = "#1f5fa8", CUT = "#8a8a8a", CHOSEN = "#d9541e";
  var TINY_SHARE = 0.015; // a marked bar below this share of the axis's top gets a ring (figures/bars.py TINY_SHARE)
  var GLTR = ["#b6e3a1", "#fbe38b", "#f5a3a3", "#c9a7e8"], IMPOSSIBLE = "#a8a8a8", ALLOWED = "#dfe7ef", MAYBE = "#f3c9b8";
  var CUT_SUFFIX = ": cut (×)"; // figures.bars.CUT_SUFFIX
  var MARK_NAMES = { drawn: "drawn token", u: "u draws (these settings)", forced: "forced token", text: "the text's token" };
  var READOUT_NAMES = { drawn: "drawn token", u: "the token u draws here", forced: "forced token", text: "the text's token" };
  var CUT_SHOWN_MAX = 60, SVGNS = "http://www.w3.org/2000/svg";

  // ---- numbers, under the package's one rule (gpt2explore.core.formatting) ----------------------
  function exp2(text) { return text.replace(/e([+-])(\d)$/, "e$10$2"); }
  function prob(p) {
    if (p === null || p === undefined || isNaN(p)) return "nan";
    if (p === 0) return "0";
    if (p === 1) return "1";
    if (Math.abs(p) < 1e-3) return exp2(p.toExponential(1));
    return p.toPrecision(3); // three significant digits, zeros kept (0.0400), as Python's fmt.prob
  }
  function number(x, d) {
    d = d === undefined ? 3 : d;
    if (x === Infinity) return "∞";
    if (x === -Infinity) return "-∞";
    var t = x.toFixed(d);
    return /^-0\.?0*$/.test(t) ? t.slice(1) : t;
  }
  function value(x) {
    if (typeof x !== "number") return String(x);
    if (Number.isInteger(x) && Math.abs(x) < 1e6) return String(x);
    var a = Math.abs(x);
    if (a !== 0 && (a < 1e-4 || a >= 1e6)) return exp2(x.toExponential(5).replace(/\.?0+e/, "e"));
    return String(parseFloat(x.toPrecision(6)));
  }
  function count(n, noun) { return n.toLocaleString("en-US") + " " + noun + (n === 1 ? "" : "s"); }
  function esc(t) { return String(t).replace(/[&<>"']/g, function (c) { return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]; }); }
  function pyRepr(t) { return t.indexOf("'") >= 0 && t.indexOf('"') < 0 ? '"' + t + '"' : "'" + t.replace(/\\/g, "\\\\").replace(/'/g, "\\'") + "'"; }

  // 'T=0.7, top-k=40, no top-p, min-p=0.1, hf rules' (gpt2explore.core.settings.describe)
  function describe(data, s) {
    var t = s.temperature === 0 ? "greedy (T=0)" : "T=" + value(s.temperature);
    var out = t + ", " + (s.top_k === 0 ? "no top-k" : "top-k=" + s.top_k) + ", " + (s.top_p >= 1 ? "no top-p" : "top-p=" + value(s.top_p));
    data.samplers.forEach(function (sp) { if (!sp.openai && s[sp.name] !== undefined && s[sp.name] !== sp.off) out += ", " + sp.label + "=" + value(s[sp.name]); });
    return out + ", " + s.semantics + " rules";
  }

  // the checks of gpt2explore.core.registry (each sampler's rule travels in the page data), same messages
  function check(data, s) {
    var bad = function (m) { throw new Error(m); };
    if (s.semantics !== "hf" && s.semantics !== "openai") bad("semantics must be one of hf, openai, got " + pyRepr(String(s.semantics)));
    data.samplers.forEach(function (sp) {
      var v = s[sp.name], r = sp.rule;
      if (typeof v !== "number" || !isFinite(v)) bad(sp.name + " must be a finite number, got " + v);
      if (r && !obeys(r, v)) bad(sp.name + " " + r.text + ", got " + value(v));
    });
    if (s.semantics === "openai") {
      var extra = data.samplers.filter(function (sp) { return !sp.openai && s[sp.name] !== sp.off; });
      if (extra.length) bad("semantics='openai' follows OpenAI's sample.py, which knows only temperature, top_k and top_p; got " +
        extra.map(function (sp) { return sp.name + "=" + value(s[sp.name]); }).join(", ") + ": use semantics='hf' for the newer samplers");
    }
  }

  function obeys(r, v) { // a registry rule ({low, high, low_open, high_open, integer}; high null = no limit)
    if (r.integer && !Number.isInteger(v)) return false;
    if (r.low_open ? !(v > r.low) : !(v >= r.low)) return false;
    return r.high === null || (r.high_open ? v < r.high : v <= r.high);
  }

  function same(a, b, data) {
    if (a.semantics !== b.semantics) return false;
    for (var i = 0; i < data.samplers.length; i++) { var n = data.samplers[i].name; if (a[n] !== b[n]) return false; }
    return true;
  }

  // ---- what one step's bars show (gpt2explore.views.bars.bars_data, in the browser) -------------
  function label(data, id) { var l = data.labels[String(id)]; return l === undefined ? "#" + id : l; }

  function contextOf(sample, index) {
    var ctx = sample.context.slice();
    for (var i = 0; i < index; i++) ctx.push(sample.steps[i].token);
    return ctx;
  }

  function labelOf(data, step, id) { // a step names some tokens its own way: a part of a character, or what completes one
    var here = step && step.label_at;
    return (here && here[String(id)]) || label(data, id);
  }

  function view(data, sample, index, settings, n, reachCut, live) {
    var stored = sample.steps[index];
    var step = (live && live.step(sample, index)) || stored, u = math.unpack(step), own = same(settings, step.settings, data);
    var kernel = live && live.needsKernel(settings) ? live.dist(sample, index, settings) : null;
    var dist = kernel ? kernel.dist : math.distribution(step, settings, live ? live.order(settings) : data.samplers, contextOf(sample, index));
    if (live && live.needsKernel(settings) && !kernel) { dist.exact = false; dist.bound = 1; } // the kernel's answer is on its way
    if (own) { // at the run's own settings: the stored own distribution, exactly what its token was drawn from
      dist.p = u.own; dist.lo = u.own; dist.hi = u.own; dist.gpLo = u.gown; dist.gpHi = u.gown;
      dist.exact = true; dist.bound = 0; dist.keptLo = dist.keptHi = step.own_kept;
      dist.entropy = step.own_entropy; dist.entropyExact = true; dist.own = true;
    }
    var raw = step._raw || (step._raw = math.raw(step)), W = u.ids.length, nKept = dist.keptLo, keptSure = dist.keptLo === dist.keptHi;
    var shownN = reachCut && keptSure && nKept < CUT_SHOWN_MAX ? Math.max(n, nKept + 1) : n;
    var rows = [];
    for (var r = 0; r < Math.min(shownN, W); r++) rows.push(r);
    // the marked token: what u draws under these settings (or the forced / text token)
    var marked = null, kind, sure = true, beyond = false, pending = !!live && !step._live;
    var noise = !!live && !data.scored && !step.forced && step.u === null && isGumbel(data); // the kernel says what it draws
    if (step.forced || (step.u === null && !noise)) { marked = step.token >= 0 ? step.token : null; kind = data.scored ? "text" : "forced"; }
    else { // what the step's own u (or Gumbel noise) draws here; at the run's own settings that gives its token back
      var got = kernel && !own ? { id: kernel.drawn, sure: true } : noise ? live.drawn(sample, index, settings, own, step) : math.pick(dist, step.u);
      marked = got.id; sure = got.sure; beyond = !!got.beyond; pending = pending || !!got.pending;
      kind = own && marked === step.token ? "drawn" : "u";
    }
    var runToken = kind === "u" && step.token >= 0 && step.token !== marked ? step.token : null;
    // where the marked token and the run's sit among the stored ids (a live row holds every id: a native
    // search of two ids, not a map of 50,257 built on every redraw)
    var at = {};
    [marked, runToken].forEach(function (t) { if (t !== null) { var k = u.ids.indexOf(t); if (k >= 0) at[t] = k; } });
    [marked, runToken].forEach(function (t) { if (t !== null && at[t] !== undefined && rows.indexOf(at[t]) < 0) rows.push(at[t]); });
    var labels = rows.map(function (k) { return labelOf(data, stored, u.ids[k]); });
    return {
      step: index, named: stored.label_at || {}, own: own, settings: settings, dist: dist, rows: rows, labels: labels,
      ids: rows.map(function (k) { return u.ids[k]; }), logits: rows.map(function (k) { return u.logits[k]; }),
      raw: rows.map(function (k) { return raw[k]; }), probs: rows.map(function (k) { return dist.p[k]; }),
      lo: rows.map(function (k) { return dist.lo[k]; }), hi: rows.map(function (k) { return dist.hi[k]; }),
      kept: rows.map(function (k) { return dist.hi[k] > 0; }),
      sureKept: rows.map(function (k) { return dist.lo[k] > 0 || (dist.exact && dist.p[k] > 0); }),
      marked: marked, kind: kind, sure: sure, beyond: beyond, runToken: runToken, token: step.token, u: step.u,
      markedProb: marked !== null && at[marked] !== undefined ? dist.p[at[marked]] : null,
      nKept: nKept, keptHi: dist.keptHi, keptSure: keptSure, exact: dist.exact, bound: dist.bound, live: !!step._live,
      pending: pending, gumbel: noise
    };
  }

  function markText(v, data, short) {
    var next = data.kind === "stepper"; // the stepper's step is the next one: not drawn yet
    var noise = v.gumbel ? "its Gumbel noise" : v.u === null ? "" : "u=" + number(v.u, 3);
    if (v.marked === null) {
      if (v.pending) return "…"; // a live widget: the kernel's row (or its draw) is on its way
      if (v.kind === "u" && v.beyond) return "u=" + number(v.u, 3) + " draws a token beyond the " + count(v.dist.ids.length, "stored token");
      return v.kind === "u" ? "u=" + number(v.u, 3) + ": the draw is not decided by what the page stores" : "";
    }
    var name = pyRepr(v.named[String(v.marked)] || label(data, v.marked)), p = "p=" + prob(v.markedProb);
    if (v.kind === "drawn") return next ? noise + " draws " + name + " next (" + p + ")" : "drawn " + name + " (" + p + ")";
    if (v.kind === "forced") return "forced " + name + " (" + p + ")";
    if (v.kind === "text") return "the text has " + name + " (" + p + ")";
    var t = noise + (v.sure ? " draws " : " most likely draws ") + name + " (" + p + ")" + (short ? "" : " under these settings");
    if (v.runToken === null && v.marked === v.token) t += next ? ", as it draws next" : ", as in the run";
    if (v.runToken !== null) t += (next ? " · next it draws " : " · the run drew ") + pyRepr(v.named[String(v.runToken)] || label(data, v.runToken));
    return t;
  }

  // the marked token's names in the legend and the readout, naming the step's noise (u, or its Gumbel
  // noise: one number per token, which the kernel holds) and, in the stepper, that the step is the next one
  function isGumbel(data) { return !!data.coupling && data.coupling !== "cdf"; }
  function markNames(data, names) {
    var out = copy(names), g = isGumbel(data), noise = g ? "its Gumbel noise" : "its u";
    if (g) out.u = names === READOUT_NAMES ? "the token its Gumbel noise draws here" : "its Gumbel noise draws (these settings)";
    if (data.kind === "stepper") out.drawn = "the token " + noise + " draws next";
    return out;
  }
  function runTokenName(data) {
    return data.kind === "stepper" ? "the token " + (isGumbel(data) ? "its Gumbel noise" : "its u") + " draws next" : "drawn in the run";
  }

  function keptText(v) {
    return v.keptSure ? count(v.nKept, "token") + " kept" : "between " + v.nKept.toLocaleString("en-US") + " and " +
      (v.keptHi === null ? "?" : v.keptHi.toLocaleString("en-US")) + " tokens kept";
  }

  function exactText(v) {
    return v.exact ? "probabilities exact" : v.bound >= 1 ? "probabilities approximate: the stored tokens do not decide them" :
      "probabilities approximate: each p within ±" + prob(v.bound);
  }

  function entropyText(v, digits, bold) { // an estimate says so itself, beside whatever the probabilities are
    var b = bold ? ["<b>", "</b>"] : ["", ""];
    return "entropy " + b[0] + (v.dist.entropyExact ? "" : "≈ ") + number(v.dist.entropy, digits) + b[1] + " nats" +
      (v.dist.entropyExact ? "" : " (estimated from the stored tokens)");
  }

  // ---- SVG ---------------------------------------------------------------------------------
  function el(name, attrs, parent, text) {
    var e = document.createElementNS(SVGNS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }

  function niceStep(span, target) {
    if (span <= 0) return 1;
    var raw = span / target, base = Math.pow(10, Math.floor(Math.log10(raw)));
    var ms = [1, 2, 5, 10];
    for (var i = 0; i < ms.length; i++) if (ms[i] * base >= raw) return ms[i] * base;
    return 10 * base;
  }

  function wrapWords(text, width) { // lines of at most `width` characters, broken at spaces
    var words = text.split(" "), lines = [], line = "";
    words.forEach(function (w) { if ((line + " " + w).trim().length > width && line) { lines.push(line); line = w; } else line = (line + " " + w).trim(); });
    if (line) lines.push(line);
    return lines;
  }
  function wrap(text, width) { // broken between " · " phrases where it can (figures.style.wrap_phrases)
    var lines = [], line = "";
    text.split(" · ").forEach(function (phrase) {
      var joined = line ? line + " · " + phrase : phrase;
      if (joined.length <= width) { line = joined; return; }
      if (line) lines.push(line + " ·");
      var pieces = wrapWords(phrase, width);
      if (!pieces.length) pieces = [""];
      for (var i = 0; i < pieces.length - 1; i++) lines.push(pieces[i]);
      line = pieces[pieces.length - 1];
    });
    if (line) lines.push(line);
    return lines;
  }

  // bars of one view: model (light), after the settings (dark, with an interval where approximate),
  // the marked token (orange), cut tokens (grey ×), the cut-off (dashed), the run's token (▼), draws (outline)
  function bars(holder, v, data, opts) {
    var compact = !!opts.compact, width = opts.width || 940, many = v.rows.length > 25 && !compact;
    var angle = many ? 90 : 45, bottom = opts.bottom || labelRoom(v.labels, angle);
    var heads = compact ? ["step " + v.step + " · " + keptText(v) + (v.exact ? "" : " · probabilities approximate")] :
      wrap(opts.heading || ("Next token at step " + v.step + " · " + describe(data, v.settings)), 84);
    var subs = compact ? [markText(v, data, true)] : wrap(keptText(v) + (v.dist.entropy === null ? "" : " · " + entropyText(v, 3, false)) +
      (markText(v, data) ? " · " + markText(v, data) : "") + " · " + exactText(v), 100);
    var legend = [["rect", RAW, "model's p (raw logits)"], ["rect", KEPT, "p after the settings"]];
    if (v.marked !== null && v.ids.indexOf(v.marked) >= 0) legend.push(["rect", CHOSEN, markNames(data, MARK_NAMES)[v.kind] + (v.markedProb === 0 ? CUT_SUFFIX : "")]);
    if (v.kept.indexOf(false) >= 0) legend.push(["x", CUT, "cut by the settings"]);
    var cutAt = cutoffX(v);
    if (cutAt !== null) legend.push(["dash", "#666", "cut-off: kept | cut"]);
    if (v.runToken !== null) legend.push(["tri", CHOSEN, runTokenName(data)]);
    if (!v.exact) legend.push(["whisker", "#222", "where p can lie"]);
    if (opts.draws) legend.push(["outline", "#111", opts.draws.total + " fresh draws (share)"]);
    var legendRows = compact ? 0 : Math.ceil(legend.length / 3);
    var top = 18 + 22 * heads.length + 17 * subs.length + 22 * legendRows + 10, plotH = compact ? 230 : 270;
    var H = top + plotH + bottom, left = 62, right = 14, plotW = width - left - right;
    var svg = el("svg", { viewBox: "0 0 " + width + " " + H, width: "100%", "class": "gx-bars", role: "img" });
    svg.style.maxWidth = width + "px";
    var y0 = 24;
    heads.forEach(function (h, i) { el("text", { x: width / 2, y: y0 + 22 * i, "text-anchor": "middle", "class": "gx-title" }, svg, h); });
    subs.forEach(function (h, i) { el("text", { x: width / 2, y: y0 + 22 * heads.length + 17 * i - 2, "text-anchor": "middle", "class": "gx-sub" }, svg, h); });
    var ly = y0 + 22 * heads.length + 17 * subs.length + 6;
    if (!compact) legend.forEach(function (item, i) {
      var col = i % 3, row = Math.floor(i / 3), x = left + col * (plotW / 3), y = ly + row * 22;
      var kind = item[0], c = item[1];
      if (kind === "rect") el("rect", { x: x, y: y - 10, width: 14, height: 12, fill: c }, svg);
      if (kind === "x") el("text", { x: x + 1, y: y + 2, fill: c, "class": "gx-x" }, svg, "×");
      if (kind === "dash") el("line", { x1: x, x2: x + 16, y1: y - 4, y2: y - 4, stroke: c, "stroke-dasharray": "4 3", "stroke-width": 1.5 }, svg);
      if (kind === "tri") el("path", { d: "M" + x + " " + (y - 10) + "h14l-7 12z", fill: c }, svg);
      if (kind === "whisker") el("path", { d: "M" + (x + 7) + " " + (y - 11) + "v14M" + (x + 3) + " " + (y - 11) + "h8M" + (x + 3) + " " + (y + 3) + "h8", stroke: c, fill: "none" }, svg);
      if (kind === "outline") el("rect", { x: x, y: y - 10, width: 14, height: 12, fill: "none", stroke: c, "stroke-width": 1.5 }, svg);
      el("text", { x: x + 20, y: y, "class": "gx-legend" }, svg, item[2]);
    });
    // axes
    var log = !!opts.log, ymax = 0, floor = 1e-6;
    v.raw.concat(v.probs, v.hi).forEach(function (p) { if (p > ymax) ymax = p; });
    if (opts.draws) v.ids.forEach(function (id) { ymax = Math.max(ymax, (opts.draws.counts[id] || 0) / opts.draws.total); });
    ymax = Math.max(opts.ymax || ymax, 1e-12);
    if (log) {
      var pos = v.raw.concat(v.probs).filter(function (p) { return p > 0; });
      floor = opts.floor || Math.pow(10, Math.floor(Math.log10(pos.length ? Math.min.apply(null, pos) : 1e-6)) - 0.3);
    }
    var yTop = log ? Math.log10(ymax) + 0.35 : ymax * 1.12, yBot = log ? Math.log10(floor) : 0;
    var Y = function (p) { var t = log ? Math.log10(Math.max(p, floor)) : p; return top + plotH * (1 - (t - yBot) / (yTop - yBot)); };
    var n = v.rows.length, band = plotW / Math.max(n, 1), X = function (i) { return left + band * (i + 0.5); };
    el("line", { x1: left, x2: left, y1: top, y2: top + plotH, stroke: "#444" }, svg);
    el("line", { x1: left, x2: left + plotW, y1: top + plotH, y2: top + plotH, stroke: "#444" }, svg);
    var ticks = [];
    if (log) [1e-6, 1e-5, 1e-4, 1e-3, 0.01, 0.1, 1].forEach(function (t) { if (t >= floor && Math.log10(t) <= yTop) ticks.push(t); });
    else { var st = niceStep(yTop, 5); for (var t = 0; t <= yTop + 1e-12; t += st) ticks.push(t); }
    ticks.forEach(function (t) {
      var y = Y(t);
      el("line", { x1: left, x2: left + plotW, y1: y, y2: y, stroke: "#e5e5e5" }, svg);
      el("text", { x: left - 6, y: y + 4, "text-anchor": "end", "class": "gx-tick" }, svg, log ? String(t) : String(parseFloat(t.toPrecision(6))));
    });
    el("text", { x: 16, y: top + plotH / 2, transform: "rotate(-90 16 " + (top + plotH / 2) + ")", "text-anchor": "middle", "class": "gx-axis" }, svg,
      log ? "probability (log scale)" : "probability");
    var bw = band * 0.85 / 2;
    v.rows.forEach(function (_, i) {
      var g = el("g", { "class": "gx-bar", "data-id": v.ids[i] }, svg), x = X(i);
      el("title", {}, g, "#" + (v.rows[i] + 1) + " " + v.labels[i] + "\nid " + v.ids[i] + "\nlogit " + number(v.logits[i]) +
        "\nmodel p " + prob(v.raw[i]) + "\nafter settings p " + prob(v.probs[i]) + (v.exact ? "" : " (between " + prob(v.lo[i]) + " and " + prob(v.hi[i]) + ")"));
      el("rect", { x: x - bw, y: Y(v.raw[i]), width: bw, height: Math.max(0, top + plotH - Y(v.raw[i])), fill: RAW }, g);
      var isMarked = v.ids[i] === v.marked, py = v.probs[i] > 0 ? Y(v.probs[i]) : top + plotH;
      el("rect", { x: x, y: py, width: bw, height: Math.max(0, top + plotH - py), fill: isMarked ? CHOSEN : KEPT, "class": isMarked ? "gx-marked" : "gx-after" }, g);
      if (isMarked && !log && v.probs[i] > 0 && v.probs[i] < TINY_SHARE * ymax) // too small to see: an orange ring at its foot (figures/bars.py)
        el("circle", { cx: x + bw / 2, cy: top + plotH - 7, r: 5, fill: "none", stroke: CHOSEN, "stroke-width": 2.5, "class": "gx-tiny" }, g);
      if (!v.exact && v.hi[i] > 0) el("path", { d: "M" + (x + bw / 2) + " " + Y(v.lo[i]) + "V" + Y(v.hi[i]) + "M" + (x + bw / 2 - 3) + " " + Y(v.hi[i]) + "h6M" + (x + bw / 2 - 3) + " " + Y(v.lo[i]) + "h6", stroke: "#222", fill: "none", "stroke-width": 1 }, g);
      if (!v.kept[i]) el("text", { x: x + bw / 2, y: top + plotH - 1, "text-anchor": "middle", fill: CUT, "class": "gx-x" }, g, "×");
      if (v.ids[i] === v.runToken) el("path", { d: "M" + (x + bw / 2 - 7) + " " + (Math.min(Y(v.raw[i]), py) - 16) + "h14l-7 12z", fill: CHOSEN, stroke: "white" }, g);
      if (opts.draws) {
        var f = (opts.draws.counts[v.ids[i]] || 0) / opts.draws.total;
        if (f > 0) el("rect", { x: x + 1, y: Y(f), width: bw - 2, height: Math.max(0, top + plotH - Y(f)), fill: "none", stroke: "#111", "stroke-width": 1.5, "class": "gx-draws" }, g);
      }
      var lx = x, ly2 = top + plotH + 8;
      el("text", { x: lx, y: ly2, transform: "rotate(-" + angle + " " + lx + " " + ly2 + ")", "text-anchor": "end", "dominant-baseline": "middle", "class": many ? "gx-label gx-small" : "gx-label" }, g,
        v.labels[i].length > 24 ? v.labels[i].slice(0, 23) + "…" : v.labels[i]);
    });
    if (cutAt !== null) el("line", { x1: X(cutAt), x2: X(cutAt), y1: top + plotH, y2: Y(ymax * 1.05), stroke: "#666", "stroke-dasharray": "5 4", "stroke-width": 1.5 }, svg);
    holder.replaceChildren(svg);
    // what it drew, as text (shown() reports it: the title's lines, joined as one, and the legend's entries)
    return { svg: svg, heads: heads, subs: subs, legend: compact ? [] : legend.map(function (item) { return item[2]; }) };
  }

  function sharedRange(views) { // the largest bar and the smallest non-zero one over several views
    var ymax = 0, low = 1;
    views.forEach(function (v) {
      v.raw.concat(v.probs, v.hi).forEach(function (p) { if (p > ymax) ymax = p; if (p > 0 && p < low) low = p; });
    });
    return { ymax: ymax, floor: Math.pow(10, Math.floor(Math.log10(low)) - 0.3) };
  }

  function labelRoom(labels, angle) { // pixels below the axis that slanted tick labels need
    var longest = Math.max.apply(null, labels.map(function (l) { return Math.min(l.length, 24); }).concat([1]));
    return Math.round(36 + 7.6 * longest * Math.sin(angle * Math.PI / 180));
  }

  function cutoffX(v) { // only where every kept token stands before it: else kept tokens not shown lie beyond
    if (v.kept.every(Boolean) || !v.kept.some(Boolean)) return null;
    var first = v.kept.indexOf(false);
    return first < v.nKept ? null : first - 0.5;
  }

  // ---- why this token (a live explorer or stepper: the kernel's attribution and attention) -------
  function signed(x, d) { var t = number(x, d === undefined ? 3 : d); return x > 0 ? "+" + t : t; }
  function waterfall(holder, a, colors) { // the direct logit attribution: from 0, each component's effect, to the logit difference
    var rows = a.rows, width = 760, left = 62, right = 14, top = 62, plotH = 230;
    var labels = rows.map(function (r) { return r[0]; });
    var H = top + plotH + labelRoom(labels, 45), plotW = width - left - right;
    var svg = el("svg", { viewBox: "0 0 " + width + " " + H, width: "100%", "class": "gx-waterfall", role: "img" });
    svg.style.maxWidth = width + "px";
    el("text", { x: width / 2, y: 22, "text-anchor": "middle", "class": "gx-title" }, svg,
      "Why " + pyRepr(a.token_label) + " over " + pyRepr(a.vs_label) + ": direct logit attribution");
    el("text", { x: width / 2, y: 42, "text-anchor": "middle", "class": "gx-sub" }, svg, "logit difference " + signed(a.logit_diff) +
      " · blue raises " + pyRepr(a.token_label) + " over " + pyRepr(a.vs_label) + ", orange lowers it · the final norm's scale frozen; indirect paths ignored");
    var ends = [0], run = 0;
    rows.forEach(function (r) { if (r[2] === "total") ends.push(r[1]); else { run += r[1]; ends.push(run); } });
    var lo = Math.min.apply(null, ends), hi = Math.max.apply(null, ends), pad = 0.12 * Math.max(hi - lo, 1e-6);
    lo -= pad; hi += pad;
    var Y = function (x) { return top + plotH * (hi - x) / (hi - lo); };
    var band = plotW / rows.length, bw = band * 0.7, st = niceStep(hi - lo, 5);
    for (var t = Math.ceil(lo / st) * st; t <= hi + 1e-12; t += st) {
      el("line", { x1: left, x2: left + plotW, y1: Y(t), y2: Y(t), stroke: Math.abs(t) < st / 2 ? "#888" : "#e5e5e5" }, svg);
      el("text", { x: left - 6, y: Y(t) + 4, "text-anchor": "end", "class": "gx-tick" }, svg, String(parseFloat(t.toPrecision(6))));
    }
    el("line", { x1: left, x2: left, y1: top, y2: top + plotH, stroke: "#444" }, svg);
    el("text", { x: 16, y: top + plotH / 2, transform: "rotate(-90 16 " + (top + plotH / 2) + ")", "text-anchor": "middle", "class": "gx-axis" }, svg, "logit(token) − logit(vs)");
    run = 0;
    rows.forEach(function (r, i) {
      var total = r[2] === "total", from = total ? 0 : run, to = total ? r[1] : run + r[1];
      if (!total) run = to;
      var x = left + band * i + (band - bw) / 2, g = el("g", { "class": "gx-wf-bar" }, svg);
      el("title", {}, g, r[0] + "\n" + (total ? "total " : "direct effect ") + signed(r[1]) + "\nrunning sum " + signed(to));
      el("rect", { x: x, y: Y(Math.max(from, to)), width: bw, height: Math.max(1, Math.abs(Y(from) - Y(to))),
                   fill: total ? colors.total : r[1] >= 0 ? colors.up : colors.down }, g);
      el("text", { x: x + bw / 2, y: r[1] >= 0 ? Y(Math.max(from, to)) - 4 : Y(Math.min(from, to)) + 13, "text-anchor": "middle", "class": "gx-tick gx-small" }, g, signed(r[1], 2));
      if (i < rows.length - 1 && !total) el("line", { x1: x + bw, x2: x + band, y1: Y(to), y2: Y(to), stroke: "#999" }, svg);
      var lx = x + bw / 2, ly = top + plotH + 8;
      el("text", { x: lx, y: ly, transform: "rotate(-45 " + lx + " " + ly + ")", "text-anchor": "end", "dominant-baseline": "middle", "class": "gx-label" }, g,
        r[0].length > 24 ? r[0].slice(0, 23) + "…" : r[0]);
    });
    holder.replaceChildren(svg);
  }
  function attended(holder, a, colors) { // the context, each token shaded by the attention the step's position gave it
    var box = document.createElement("div"), top = Math.max.apply(null, a.weights.concat([1e-12]));
    box.className = "gx-attended";
    var head = document.createElement("div");
    head.className = "gx-key";
    var order = a.weights.map(function (w, i) { return i; }).sort(function (i, j) { return a.weights[j] - a.weights[i]; }).slice(0, 3);
    head.textContent = "attention at layer " + a.layer + " (layers 0–" + (a.n_layer - 1) + "), " +
      (a.head === null ? "the mean of its " + a.n_head + " heads" : "head " + a.head) +
      " · darker = more attention · blue text: the prompt · boxed: the position itself · most: " +
      order.map(function (i) { return pyRepr(a.labels[i]) + " " + prob(a.weights[i]); }).join(", ");
    box.appendChild(head);
    var text = document.createElement("div");
    text.className = "gx-text";
    a.pieces.forEach(function (piece, i) {
      var span = document.createElement("span");
      span.className = "gx-att" + (i === a.position ? " gx-att-self" : "");
      span.style.background = "rgba(" + colors.shade.join(",") + "," + (0.06 + 0.9 * a.weights[i] / top).toFixed(3) + ")";
      if (a.in_prompt[i]) span.style.color = colors.prompt;
      span.title = a.labels[i] + " (position " + i + (a.in_prompt[i] ? ", prompt" : "") + ")\nattention " + prob(a.weights[i]);
      span.textContent = piece;
      text.appendChild(span);
    });
    box.appendChild(text);
    holder.replaceChildren(box);
  }

  // ---- controls -----------------------------------------------------------------------------
  function control(spec, start, onInput) {
    var box = document.createElement("label");
    box.className = "gx-control";
    box.title = spec.name;
    var name = document.createElement("span"), input = document.createElement("input"), out = document.createElement("span");
    name.className = "gx-name"; name.textContent = spec.short;
    out.className = "gx-value";
    input.type = "range"; input.dataset.name = spec.name;
    input.min = Math.min(spec.min, start); input.max = Math.max(spec.max, start); input.step = spec.step;
    input.value = start; out.textContent = shownValue(spec, start);
    input.addEventListener("input", function () { onInput(spec.name, clean(spec, parseFloat(input.value))); });
    keepKeys(input);
    box.appendChild(name); box.appendChild(input); box.appendChild(out);
    return { box: box, input: input, out: out, set: function (v) {
      if (v > parseFloat(input.max)) input.max = v;
      if (v < parseFloat(input.min)) input.min = v;
      input.value = v; out.textContent = shownValue(spec, v);
    } };
  }
  var SLIDER_KEYS = { ArrowLeft: 1, ArrowRight: 1, ArrowUp: 1, ArrowDown: 1, Home: 1, End: 1, PageUp: 1, PageDown: 1 };
  function keepKeys(input) { // a focused slider's keys move it: JupyterLab's notebook (arrows move cells) never sees them
    input.addEventListener("keydown", function (e) { if (SLIDER_KEYS[e.key]) e.stopPropagation(); });
  }
  function shownValue(spec, v) { // a sampler at its "off" value says so (top-k 0 keeps every token)
    if (v !== spec.off || spec.name === "temperature") return value(v);
    return spec.name === "top_k" ? "0 = all" : value(v) + " = off";
  }
  function clean(spec, x) { // a slider's value as a person would type it (0.7, not 0.7000000000000001)
    if (spec.integer) return Math.round(x);
    return parseFloat(x.toPrecision(10));
  }

  function settingsControls(page, container) {
    var data = page.data, controls = {};
    var grid = document.createElement("div"), more = null;
    grid.className = "gx-controls";
    data.samplers.forEach(function (sp) {
      var c = control(sp, page.settings[sp.name], function (name, v) { page.change(name, v); });
      controls[sp.name] = c;
      if (!sp.more) { grid.appendChild(c.box); return; }
      if (!more) { // samplers the run never used: one click away
        more = document.createElement("details"); more.className = "gx-more";
        var summary = document.createElement("summary"); summary.textContent = "more samplers";
        more.appendChild(summary);
      }
      more.appendChild(c.box);
      if (page.settings[sp.name] !== sp.off) more.open = true;
    });
    var rules = document.createElement("div");
    rules.className = "gx-control gx-rules";
    rules.innerHTML = "<span class='gx-name'>rules</span>";
    ["hf", "openai"].forEach(function (r) {
      var b = document.createElement("button");
      b.type = "button"; b.textContent = r; b.dataset.rule = r;
      b.title = r === "hf" ? "transformers' warpers" : "OpenAI's sample.py";
      b.addEventListener("click", function () { page.change("semantics", r); });
      rules.appendChild(b);
    });
    grid.appendChild(rules);
    if (more) grid.appendChild(more);
    container.appendChild(grid);
    return {
      controls: controls,
      sync: function (s) {
        for (var k in controls) controls[k].set(s[k]);
        Array.prototype.forEach.call(rules.querySelectorAll("button"), function (b) { b.classList.toggle("gx-on", b.dataset.rule === s.semantics); });
      }
    };
  }

  function textPanel(sample, current, onPick, colours, forcedMarks) { // forcedMarks: underline the tokens a person forced
    var div = document.createElement("div");
    div.className = "gx-text";
    var pr = document.createElement("span");
    pr.className = "gx-prompt"; pr.textContent = sample.prompt;
    div.appendChild(pr);
    sample.pieces.forEach(function (piece, i) {
      var s = document.createElement("span");
      s.className = "gx-token" + (i === current ? " gx-current" : "");
      var note = sample.notes ? sample.notes[i] : ""; // a token sharing a character with its neighbours says so
      s.textContent = piece || (note ? "" : "∅"); s.dataset.step = i;
      if (!piece && note) s.className += " gx-part";
      var forced = forcedMarks && sample.steps[i] && sample.steps[i].forced;
      if (forced) s.className += " gx-forced";
      if (colours) colourToken(s, sample, i, colours);
      else s.title = "step " + i + (forced ? " (forced)" : "") + ": click to show its bars" + (note ? "\n" + note : "");
      s.addEventListener("click", function () { onPick(i); });
      div.appendChild(s);
    });
    return div;
  }
  function colourToken(s, sample, i, colours) { // a token's colour and its hover text (inspect: built, or recoloured in place)
    var note = sample.notes ? sample.notes[i] : "";
    s.style.background = colours[i].fill;
    s.title = colours[i].title + (note ? "\n" + note : "");
  }

  function tokensOf(v) {
    return v.ids.map(function (id, i) { return { id: id, p: v.probs[i], lo: v.lo[i], hi: v.hi[i] }; });
  }

  function freshDraws(v, data, sample, n) { // n fresh uniforms through the same pick as the page's own u
    var counts = {}, elsewhere = 0;
    for (var i = 0; i < n; i++) {
      var got = math.pick(v.dist, Math.random());
      if (got.id === null) elsewhere++; else counts[got.id] = (counts[got.id] || 0) + 1;
    }
    return { counts: counts, total: n, elsewhere: elsewhere };
  }

  // ---- the pages ----------------------------------------------------------------------------
  function Page(root, data) {
    this.root = root; this.data = data; this.sample = 0; this.step = 0; this.log = false; this.error = "";
    this.settings = {};
    for (var k in data.start) this.settings[k] = data.start[k];
    this.draws = null; this.lastMs = 0; this.canDraw = true;
  }
  Page.prototype.change = function (name, v) {
    var next = {};
    for (var k in this.settings) next[k] = this.settings[k];
    next[name] = v;
    this.apply({ settings: next });
  };
  Page.prototype.apply = function (o) {
    var t0 = performance.now();
    if (o.settings) {
      try { check(this.data, o.settings); this.error = ""; this.settings = o.settings; }
      catch (err) { this.error = err.message; this.settings = o.settings; }
    }
    this.draws = o.keepDraws ? this.draws : null;
    this.render();
    this.lastMs = performance.now() - t0;
    if (this.live) this.live.sync();
  };
  Page.prototype.ready = function () { return this.live ? this.live.ready() : Promise.resolve(); };
  Page.prototype.state = function () {
    return { sample: this.sample, step: this.step, log: this.log, layer: this.layer === undefined ? null : this.layer,
             click: this.click || null, settings: copy(this.settings) };
  };
  Page.prototype.set = function (o) {
    var self = this;
    return new Promise(function (resolve, reject) {
      try {
        var next = {}, k;
        for (k in self.settings) next[k] = self.settings[k];
        for (k in o) {
          if (k === "sample" || k === "step" || k === "log" || k === "layer" || k === "click") continue;
          if (!(k in next)) {
            var others = self.data.others || {};
            if (k in others && o[k] === others[k]) continue; // a sampler this page does not offer, left off
            if (k in others) throw new Error("this page does not offer " + k + " (the run did not use it); the settings are " + Object.keys(next).join(", "));
            throw new Error("unknown setting " + pyRepr(k) + "; the settings are " + Object.keys(next).join(", "));
          }
          next[k] = o[k];
        }
        if (o.sample !== undefined) self.setSample(o.sample);
        if (o.step !== undefined) self.setStep(o.step);
        if (o.log !== undefined) self.log = !!o.log;
        if (o.layer !== undefined && o.layer !== null && self.data.layers) self.layer = o.layer;
        check(self.data, next);
        self.apply({ settings: next });
        self.ready().then(function () { requestAnimationFrame(function () { resolve(self.shown()); }); }, reject);
      } catch (err) { reject(err); }
    });
  };
  Page.prototype.setSample = function (i) {
    if (!Number.isInteger(i) || i < 0 || i >= this.sampleCount()) throw new Error("sample must be an integer in 0.." + (this.sampleCount() - 1) + ", got " + i);
    this.sample = i;
    this.step = Math.min(this.step, this.stepCount() - 1);
  };
  Page.prototype.setStep = function (i) {
    if (!Number.isInteger(i) || i < 0 || i >= this.stepCount()) throw new Error("step must be an integer in 0.." + (this.stepCount() - 1) + ", got " + i);
    // where the controls showed the old step's own settings, they move to the new step's own (a
    // session may change its settings between steps); settings the reader chose stay
    var steps = this.data.samples[this.sample].steps, old = steps[Math.min(this.step, steps.length - 1)];
    if (old && same(this.settings, old.settings, this.data)) this.settings = copy(steps[i].settings);
    this.step = i;
  };
  Page.prototype.sampleCount = function () { return this.data.samples.length; };
  Page.prototype.stepCount = function () { return this.data.samples[this.sample].steps.length; };
  Page.prototype.header = function () {
    var self = this, bar = document.createElement("div");
    bar.className = "gx-row";
    if (this.sampleCount() > 1) {
      var sel = document.createElement("select");
      sel.className = "gx-sample";
      this.sampleOptions().forEach(function (o) { var op = document.createElement("option"); op.value = o[1]; op.textContent = o[0]; sel.appendChild(op); });
      sel.addEventListener("change", function () { self.setSample(parseInt(sel.value, 10)); self.apply({}); });
      this.sampleSelect = sel;
      var lab = document.createElement("label"); lab.className = "gx-control"; lab.innerHTML = "<span class='gx-name'>sample</span>";
      lab.appendChild(sel); bar.appendChild(lab);
    }
    var step = document.createElement("label"), input = document.createElement("input"), out = document.createElement("span");
    step.className = "gx-control"; step.innerHTML = "<span class='gx-name'>" + (this.data.scored ? "position" : "step") + "</span>";
    input.type = "range"; input.min = 0; input.step = 1; input.className = "gx-step";
    out.className = "gx-value";
    input.addEventListener("input", function () { self.setStep(parseInt(input.value, 10)); self.apply({}); });
    keepKeys(input);
    step.appendChild(input); step.appendChild(out); bar.appendChild(step);
    this.stepInput = input; this.stepOut = out;
    var log = document.createElement("label"), box = document.createElement("input");
    log.className = "gx-check"; box.type = "checkbox";
    box.addEventListener("change", function () { self.log = box.checked; self.apply({ keepDraws: true }); });
    log.appendChild(box); log.appendChild(document.createTextNode(" log scale")); bar.appendChild(log);
    this.logBox = box;
    if (this.live && this.data.layers) { // the logit lens: the kernel sends that layer's row
      var lay = document.createElement("label"), li = document.createElement("input"), lo = document.createElement("span");
      lay.className = "gx-control gx-kernel"; lay.innerHTML = "<span class='gx-name'>layer (lens)</span>";
      li.type = "range"; li.min = 0; li.max = this.data.layers; li.step = 1; li.className = "gx-layer"; lo.className = "gx-value";
      li.addEventListener("input", function () { self.layer = parseInt(li.value, 10); self.apply({}); });
      keepKeys(li);
      lay.appendChild(li); lay.appendChild(lo); bar.appendChild(lay);
      this.layerInput = li; this.layerOut = lo;
    }
    return bar;
  };
  Page.prototype.sampleOptions = function () {
    return this.data.samples.map(function (s, i) { return [i + ": " + pyRepr(s.prompt.slice(0, 60)) + " #" + s.index, i]; });
  };
  Page.prototype.build = function () {
    var self = this, root = this.root;
    root.replaceChildren();
    root.appendChild(this.header());
    this.panel = settingsControls(this, root);
    var buttons = document.createElement("div");
    buttons.className = "gx-row";
    var draw = document.createElement("button"), reset = document.createElement("button");
    draw.type = reset.type = "button";
    draw.className = "gx-draw"; draw.textContent = "draw 100 times";
    draw.title = "100 fresh draws from the distribution shown: their shares appear as outlines on the bars";
    draw.addEventListener("click", function () { self.draw(100); });
    reset.className = "gx-reset"; reset.textContent = this.data.scored ? "the starting settings" : this.data.kind === "stepper" ? "the session's settings" : "the run's own settings";
    reset.addEventListener("click", function () { self.apply({ settings: self.ownSettings() }); });
    if (this.draws !== undefined && this.canDraw) buttons.appendChild(draw);
    buttons.appendChild(reset);
    if (this.live && this.data.clicks) { // the kernel answers a click on a bar
      var cl = document.createElement("label"), sel = document.createElement("select");
      cl.className = "gx-control gx-kernel"; cl.innerHTML = "<span class='gx-name'>click a bar</span>";
      this.data.clicks.forEach(function (c) { var op = document.createElement("option"); op.value = c[1]; op.textContent = c[0]; sel.appendChild(op); });
      sel.className = "gx-click";
      sel.addEventListener("change", function () { self.click = sel.value; self.apply({ keepDraws: true }); });
      cl.appendChild(sel); buttons.appendChild(cl); this.clickSelect = sel;
    }
    root.appendChild(buttons);
    this.readout = document.createElement("div"); this.readout.className = "gx-readout";
    this.status = document.createElement("div"); this.status.className = "gx-status";
    this.figure = document.createElement("div"); this.figure.className = "gx-figure";
    if (this.live) this.figure.addEventListener("click", function (e) {
      var g = e.target.closest && e.target.closest(".gx-bar");
      if (!g) return;
      if (self.click === "why" && self.whyBox) { self.explain(parseInt(g.dataset.id, 10)); return; } // answered by the why section
      self.live.send({ type: "click", sample: self.sample, step: self.step, token: parseInt(g.dataset.id, 10) });
    });
    this.textBox = document.createElement("div");
    root.appendChild(this.readout); root.appendChild(this.status); root.appendChild(this.figure); root.appendChild(this.textBox);
    if (this.live && this.data.why) this.buildWhy(root);
    var note = document.createElement("div");
    note.className = "gx-note";
    note.textContent = this.data.model + (this.data.scored ? ", a scored text" : ", seed " + this.data.seed) +
      (this.live ? " · live: each step's full logits come from the kernel, so every setting is exact" :
      " · made with gpt2explore: probabilities recomputed in this page from the stored logits of " +
      (this.data.scored ? "each position of the text" : "the run"));
    root.appendChild(note);
    this.render();
  };
  Page.prototype.ownSettings = function () {
    var own = {}, s = this.data.samples[this.sample].steps[this.step].settings;
    for (var k in s) own[k] = s[k];
    return own;
  };
  Page.prototype.syncHeader = function () {
    this.stepInput.max = this.stepCount() - 1; this.stepInput.value = this.step; this.stepOut.textContent = this.step;
    if (this.sampleSelect) this.sampleSelect.value = this.sample;
    this.logBox.checked = this.log;
    if (this.layerInput) { this.layerInput.value = this.layer; this.layerOut.textContent = this.layer === this.data.layers ? this.layer + " = the model" : this.layer; }
    if (this.clickSelect) this.clickSelect.value = this.click;
    this.panel.sync(this.settings);
  };
  Page.prototype.draw = function (n) {
    var self = this;
    return new Promise(function (resolve) {
      if (self.error || !self.current) { resolve(null); return; }
      self.draws = freshDraws(self.current, self.data, self.data.samples[self.sample], n);
      self.render();
      requestAnimationFrame(function () { resolve(self.draws); });
    });
  };

  // "why this token": the kernel's direct logit attribution of the step's token against another (vs), and its attention
  Page.prototype.buildWhy = function (root) {
    var self = this, d = document.createElement("details"), summary = document.createElement("summary");
    d.className = "gx-why";
    summary.textContent = "why this token (attribution, attention)";
    d.appendChild(summary);
    var row = document.createElement("div"), add = function (text, input, cls) {
      var l = document.createElement("label");
      l.className = "gx-control gx-kernel " + cls; l.innerHTML = "<span class='gx-name'>" + text + "</span>";
      l.appendChild(input); row.appendChild(l);
      return l;
    };
    row.className = "gx-row";
    var vs = document.createElement("select"), layer = document.createElement("input"), layerOut = document.createElement("span"), head = document.createElement("select");
    vs.className = "gx-why-vs";
    layer.type = "range"; layer.min = 0; layer.max = 0; layer.step = 1; layer.className = "gx-why-layer";
    layerOut.className = "gx-value";
    head.className = "gx-why-head";
    add("vs", vs, "gx-why-against");
    var layerLabel = add("attention layer", layer, "gx-why-attention"), headLabel = add("head", head, "gx-why-attention");
    layerLabel.appendChild(layerOut);
    keepKeys(layer);
    d.appendChild(row);
    var status = document.createElement("div"), attr = document.createElement("div"), att = document.createElement("div");
    status.className = "gx-why-status"; attr.className = "gx-why-attribution"; att.className = "gx-why-attention-view";
    d.appendChild(status); d.appendChild(attr); d.appendChild(att);
    root.appendChild(d);
    this.whyBox = { details: d, vs: vs, layer: layer, layerOut: layerOut, head: head, status: status, attr: attr, att: att, attention: [layerLabel, headLabel] };
    this.whys = {}; this.whyVs = null; this.whyLayer = -1; this.whyHead = null;
    d.addEventListener("toggle", function () { self.renderWhy(); });
    vs.addEventListener("change", function () { self.whyVs = parseInt(vs.value, 10); self.renderWhy(); });
    layer.addEventListener("input", function () { self.whyLayer = parseInt(layer.value, 10); layerOut.textContent = layer.value; self.renderWhy(); });
    head.addEventListener("change", function () { var h = parseInt(head.value, 10); self.whyHead = h < 0 ? null : h; self.renderWhy(); });
  };
  Page.prototype.whyKey = function () {
    var step = this.data.samples[this.sample].steps[this.step];
    return "why:" + [this.sample, this.step, step.token, this.stepCount(), this.whyVs, this.whyLayer, this.whyHead].join(":");
  };
  Page.prototype.explain = function (token) { // a clicked bar: the step's token against it, the section open
    if (!this.whyBox) return;
    this.whyVs = token;
    this.whyBox.details.open = true;
    this.renderWhy();
  };
  Page.prototype.renderWhy = function () {
    var w = this.whyBox;
    if (!w || !w.details.open) return;
    var key = this.whyKey(), got = this.whys[key];
    if (!got) {
      w.status.textContent = "asking the kernel (one forward pass over the context)…";
      this.live.ask(key, { type: "why", key: key, sample: this.sample, step: this.step, layer: null, vs: this.whyVs, att_layer: this.whyLayer, head: this.whyHead });
      return;
    }
    var data = this.data, at = got.attribution, options = this.current ? this.current.ids.filter(function (id) { return id !== got.token; }) : [];
    if (at && options.indexOf(at.vs) < 0) options.push(at.vs);
    if (this.whyVs !== null && options.indexOf(this.whyVs) < 0) options.push(this.whyVs);
    w.vs.replaceChildren();
    options.forEach(function (id) { var op = document.createElement("option"); op.value = id; op.textContent = pyRepr(label(data, id)); w.vs.appendChild(op); });
    if (at) w.vs.value = at.vs;
    // the rival in the bars too: a dashed outline on its bar (the one a click in "why" mode chose)
    var rivalBar = null;
    Array.prototype.forEach.call(this.figure.querySelectorAll(".gx-bar.gx-vs"), function (b) { b.classList.remove("gx-vs"); });
    if (at) rivalBar = this.figure.querySelector('.gx-bar[data-id="' + at.vs + '"]');
    if (rivalBar) rivalBar.classList.add("gx-vs");
    w.status.textContent = got.notes.concat(rivalBar ? ["against " + pyRepr(label(data, at.vs)) + ": its bar has a dashed outline"] : []).join(" · ");
    if (at) waterfall(w.attr, at, data.why); else w.attr.replaceChildren();
    var a = got.attention;
    w.attention.forEach(function (l) { l.style.display = a ? "" : "none"; });
    if (a) {
      w.layer.max = a.n_layer - 1; w.layer.value = a.layer; w.layerOut.textContent = a.layer;
      if (w.head.options.length !== a.n_head + 1) {
        w.head.replaceChildren();
        [-1].concat(Array.from({ length: a.n_head }, function (_, h) { return h; })).forEach(function (h) {
          var op = document.createElement("option"); op.value = h; op.textContent = h < 0 ? "mean of the heads" : "head " + h; w.head.appendChild(op);
        });
      }
      w.head.value = a.head === null ? -1 : a.head;
      attended(w.att, a, data.why);
    } else w.att.replaceChildren();
    this.whyShown = got;
  };
  Page.prototype.why = function (o) { // el.gx.why({vs, layer, head}): the section open, resolved once the kernel's answer is drawn
    var self = this;
    o = o || {};
    if (!this.whyBox) return Promise.reject(new Error("no why section here: it needs the kernel (a live explorer or stepper)"));
    if (o.vs !== undefined) this.whyVs = o.vs;
    if (o.layer !== undefined) this.whyLayer = o.layer;
    if (o.head !== undefined) this.whyHead = o.head;
    this.whyBox.details.open = true;
    this.renderWhy();
    return this.ready().then(function () {
      return new Promise(function (resolve) {
        requestAnimationFrame(function () {
          var got = self.whys[self.whyKey()] || {};
          resolve({ open: self.whyBox.details.open, step: got.step, token: got.token, attribution: got.attribution || null,
                    attention: got.attention ? { layer: got.attention.layer, head: got.attention.head, weights: got.attention.weights } : null,
                    notes: got.notes || [], vs_options: Array.from(self.whyBox.vs.options).map(function (op) { return parseInt(op.value, 10); }),
                    drawn: self.whyBox.attr.querySelectorAll(".gx-wf-bar").length });
        });
      });
    });
  };

  // the explorer: one sample's step at a time
  function Explorer(root, data) { Page.call(this, root, data); }
  Explorer.prototype = Object.create(Page.prototype);
  Page.prototype.say = function () { // a setting that cannot go with the others: said, and what is drawn is dimmed
    // its own line only: what a move said (the stepper's, compare's) stays until the session moves on
    if (this.error) { this.status.textContent = this.error + " (the figure still shows the last settings that went together)"; this.settingsSaid = true; }
    else if (this.settingsSaid) { this.status.textContent = ""; this.settingsSaid = false; }
    this.figure.classList.toggle("gx-stale", !!this.error);
    this.readout.classList.toggle("gx-stale", !!this.error);
  };

  Explorer.prototype.render = function () {
    var self = this, data = this.data, sample = data.samples[this.sample];
    this.syncHeader();
    this.say();
    if (!this.error) {
      var v = view(data, sample, this.step, this.settings, data.n, true, this.live);
      this.current = v;
      if (this.live) this.live.labelsFor(v);
      this.drawn = bars(this.figure, v, data, { log: this.log, draws: this.draws });
      this.readout.innerHTML = readoutHtml(v, data, this.draws);
    }
    this.textBox.replaceChildren(textPanel(sample, this.step, function (i) { self.setStep(i); self.apply({}); }, null, !data.scored));
    this.renderWhy();
  };
  Explorer.prototype.shown = function () {
    var v = this.current;
    return { kind: "explorer", sample: this.sample, step: this.step, settings: copy(this.settings), error: this.error || null,
             exact: v.exact, bound: v.bound, drawn: v.marked, drawn_kind: v.kind, drawn_sure: v.sure, own: v.own,
             n_kept: v.keptSure ? v.nKept : null, tokens: tokensOf(v), labels: v.labels, draws: this.draws, ms: this.lastMs,
             live: !!this.live, layer: this.layer === undefined ? null : this.layer,
             title: this.drawn ? this.drawn.heads.concat(this.drawn.subs).join(" ") : null, legend: this.drawn ? this.drawn.legend.slice() : null };
  };

  // the stepper (a live widget only): the session's next step, the moves are the kernel's
  function Stepper(root, data) { Explorer.call(this, root, data); this.step = this.stepCount() - 1; this.moves = 0; this.pending = {}; }
  Stepper.prototype = Object.create(Explorer.prototype);
  Stepper.prototype.header = function () {
    var bar = Page.prototype.header.call(this);
    this.stepInput.parentNode.style.display = "none"; // always the next step: the text shows the steps so far
    return bar;
  };
  Stepper.prototype.build = function () {
    var self = this;
    Page.prototype.build.call(this);
    var row = document.createElement("div");
    row.className = "gx-row gx-moves";
    var button = function (cls, text, title, fn) {
      var b = document.createElement("button");
      b.type = "button"; b.className = cls; b.textContent = text; b.title = title;
      b.addEventListener("click", function () { fn().catch(function () {}); });
      row.appendChild(b);
      return b;
    };
    this.nextButton = button("gx-next", "Next", "draw the next token with " + (isGumbel(this.data) ? "its Gumbel noise" : "its u") + " at these settings", function () { return self.next(); });
    this.nInput = document.createElement("input");
    this.nInput.type = "number"; this.nInput.min = 1; this.nInput.max = 1000; this.nInput.value = 5; this.nInput.className = "gx-n";
    button("gx-next-n", "Next ×N", "draw N tokens", function () { return self.next(parseInt(self.nInput.value, 10)); });
    row.appendChild(this.nInput);
    this.backButton = button("gx-back", "Back", "undo the last step", function () { return self.move("back", {}); });
    this.forceInput = document.createElement("input");
    this.forceInput.type = "text"; this.forceInput.placeholder = "a token, e.g. ' John'"; this.forceInput.className = "gx-force-text";
    row.appendChild(this.forceInput);
    button("gx-force", "Force", "append this token instead of drawing one", function () { return self.move("force", { text: self.forceInput.value }); });
    button("gx-fork", "Fork", "a second stepper from here (below)", function () { return self.move("fork", {}); });
    this.root.insertBefore(row, this.root.firstChild);
    this.render();
  };
  Stepper.prototype.render = function () {
    this.step = this.stepCount() - 1;
    Explorer.prototype.render.call(this);
    this.textBox.replaceChildren(textPanel(this.data.samples[0], -1, function () {}, null, !this.data.scored));
    if (this.backButton) this.backButton.disabled = this.step === 0;
    if (this.nextButton) this.nextButton.disabled = this.data.room === 0;
  };
  Stepper.prototype.next = function (n) { return this.move("next", { n: n === undefined ? 1 : n }); };
  Stepper.prototype.move = function (action, extra) { // a move is the kernel's; resolved once its result is shown
    var self = this, ask = "move " + (++this.moves), msg = { type: "click", action: action, ask: ask, settings: copy(this.settings) };
    for (var k in extra) msg[k] = extra[k];
    return new Promise(function (resolve, reject) {
      self.pending[ask] = { resolve: resolve, reject: reject };
      self.live.send(msg);
    });
  };
  Stepper.prototype.newData = function (data) { // the session moved: its steps and next step, fresh from the kernel
    for (var id in this.data.labels) if (data.labels[id] === undefined) data.labels[id] = this.data.labels[id];
    var before = this.data.samples[0].steps, now = data.samples[0].steps, same = before.length === now.length;
    for (var i = 0; same && i < now.length - 1; i++) same = before[i].token === now[i].token && before[i].forced === now[i].forced;
    this.data = data;
    if (this.whys) this.whys = {};
    // the session moved: an earlier move's message is stale, but not what a move said of the steps shown now
    // (its "moved" names the steps it left, and may come before or after its data, which may come more than once)
    if (this.saidSteps !== now.length - 1) { this.status.textContent = ""; this.status.classList.remove("gx-said"); this.saidSteps = null; }
    this.live.dists = {}; this.live.draws = {};
    if (same) { // the same steps, new settings: the next step's row stays (exact, no longer its own) until the new one comes
      var key = this.live.key(data.samples[0], now.length - 1);
      if (this.live.rows[key]) this.live.ask("row " + key + " #" + (++this.moves), { type: "row", key: key, sample: 0, step: now.length - 1, layer: this.live.layerKey() });
    } else { this.live.rows = {}; this.live.keys = []; }
    this.step = this.stepCount() - 1;
    this.apply({});
  };
  Stepper.prototype.moved = function (msg) {
    var self = this, p = this.pending[msg.ask];
    delete this.pending[msg.ask];
    this.status.textContent = msg.error || msg.said || "";
    this.status.classList.toggle("gx-said", !msg.error && !!msg.said);
    this.saidSteps = msg.said && msg.steps !== undefined ? msg.steps : null; // kept while the session has these steps
    if (!msg.error && /^forced /.test(msg.said || "") && this.forceInput) this.forceInput.value = ""; // done: the box is free
    if (!p) return;
    if (msg.error) { p.reject(new Error(msg.error)); return; }
    this.ready().then(function () { requestAnimationFrame(function () { p.resolve(self.shown()); }); }, p.reject);
  };
  Stepper.prototype.shown = function () {
    var out = Explorer.prototype.shown.call(this), sample = this.data.samples[0];
    out.kind = "stepper";
    out.text = sample.prompt + sample.pieces.join("");
    out.generated = sample.steps.slice(0, -1).map(function (s) { return s.token; });
    out.next = sample.steps[sample.steps.length - 1].token;
    return out;
  };

  function readoutHtml(v, data, draws) {
    var t = "<b>" + esc(keptText(v)) + "</b>";
    if (v.dist.entropy !== null) t += " · " + entropyText(v, 3, true);
    if (v.markedProb !== null) t += " · p(" + esc(markNames(data, READOUT_NAMES)[v.kind]) + ") <b>" + prob(v.markedProb) + "</b>";
    t += " · <span class='" + (v.exact ? "gx-exact" : "gx-approx") + "'>" + esc(exactText(v)) + "</span>";
    if (draws) {
      var on = 0;
      v.ids.forEach(function (id) { on += draws.counts[id] || 0; });
      t += "<br>" + draws.total + " fresh draws: " + on + " on the tokens shown, " + (draws.total - on) + " elsewhere";
    }
    return t;
  }
  function copy(o) { var c = {}; for (var k in o) c[k] = o[k]; return c; }

  // compare: one column per prompt, the same sample number (the same draws), the same step and settings
  function Compare(root, data) { Page.call(this, root, data); this.sample = 0; this.canDraw = false; this.summaries = {}; this.moves = 0; this.pending = {}; }
  Compare.prototype = Object.create(Page.prototype);
  Compare.prototype.numbers = function () { // the sample numbers (each a set of columns, one per prompt)
    var seen = [];
    this.data.samples.forEach(function (s) { if (seen.indexOf(s.index) < 0) seen.push(s.index); });
    return seen;
  };
  Compare.prototype.sampleCount = function () { return this.numbers().length; };
  Compare.prototype.columns = function () {
    var number = this.numbers()[this.sample];
    return this.data.samples.filter(function (s) { return s.index === number; });
  };
  Compare.prototype.stepCount = function () { return Math.min.apply(null, this.columns().map(function (s) { return s.steps.length; })); };
  Compare.prototype.sampleOptions = function () { return this.numbers().map(function (n, i) { return ["sample #" + n, i]; }); };
  Compare.prototype.render = function () {
    var self = this, data = this.data;
    this.syncHeader();
    this.say();
    if (this.error) return;
    var grid = document.createElement("div");
    grid.className = "gx-columns";
    this.views = [];
    var columns = this.columns();
    columns.forEach(function (sample) { // live: each column's own full row from the kernel, so every setting is exact
      var v = view(data, sample, self.step, self.settings, data.n, false, self.live);
      if (self.live) self.live.labelsFor(v);
      self.views.push(v);
    });
    var room = Math.max.apply(null, this.views.map(function (v) { return labelRoom(v.labels, 45); })); // plots start and end level
    var span = sharedRange(this.views); // one probability axis for every column: side by side reads true
    columns.forEach(function (sample, i) {
      var col = document.createElement("div"), head = document.createElement("div"), fig = document.createElement("div");
      col.className = "gx-column"; head.className = "gx-head"; head.textContent = sample.prompt; head.title = sample.prompt;
      var v = self.views[i];
      bars(fig, v, data, { compact: true, width: 440, log: self.log, bottom: room, ymax: span.ymax, floor: span.floor });
      col.appendChild(head); col.appendChild(fig);
      col.appendChild(textPanel(sample, self.step, function (i) { self.setStep(i); self.apply({}); }, null, !data.scored));
      grid.appendChild(col);
    });
    var key = document.createElement("div");
    key.className = "gx-key";
    key.textContent = compareKey(data);
    this.figure.replaceChildren(key, grid);
    if (this.live) this.figure.insertBefore(this.summaryLine(), key);
    else if (data.summaries) this.figure.insertBefore(this.savedSummary(), key);
    this.current = this.views[0];
    var exact = this.views.every(function (v) { return v.exact; }), none = this.views.every(function (v) { return !v.exact; });
    this.readout.innerHTML = "step " + this.step + " · " + esc(describe(data, this.settings)) + " · <span class='" + (exact ? "gx-exact" : "gx-approx") + "'>" +
      (exact ? "probabilities exact" : none ? "probabilities approximate in every column" : "probabilities approximate in some columns") + "</span>";
    this.textBox.replaceChildren();
  };
  Compare.prototype.draw = function () { return Promise.resolve(null); };
  // the colours in words, naming what the columns share: each step's u, or its Gumbel noise (the kernel's draw)
  function compareKey(data) {
    var noise = isGumbel(data) ? "Gumbel noise" : "u", shared = isGumbel(data) ? "the same Gumbel noise" : "the same draws";
    return "light bars: the model's distribution · dark: after the settings (what is sampled) · orange: the token " +
      "the step's " + noise + " draws under these settings (at the run's own settings, the token it drew) · ▼ the token the run drew, " +
      "when " + noise + " now draws another · grey ×: cut by the settings · the columns share " + shared;
  }
  // live: how the columns' distributions differ, in the kernel's words (asked for each shown state)
  Compare.prototype.summaryLine = function () {
    var key = JSON.stringify([this.sample, this.step, this.settings]), div = document.createElement("div");
    div.className = "gx-summary";
    if (this.summaries[key] === undefined) {
      this.live.ask("summary " + key, { type: "click", action: "summary", key: key, sample: this.sample, step: this.step, settings: copy(this.settings) });
      div.innerHTML = this.lastSummary || ""; div.classList.add("gx-stale"); // the kernel's answer is on its way
    } else div.innerHTML = this.lastSummary = this.summaries[key];
    return div;
  };
  // a page: how the columns differ, as the kernel said it when the page was saved (at its starting settings)
  Compare.prototype.savedSummary = function () {
    var div = document.createElement("div"), start = this.data.start, same = true;
    div.className = "gx-summary";
    for (var k in start) if (this.settings[k] !== start[k]) same = false;
    var said = this.data.summaries[this.sample + ":" + this.step];
    if (same && said) div.innerHTML = said;
    else { div.className += " gx-note"; div.textContent = "how the columns differ (Jensen–Shannon) is stored for the settings the page opened with only: " + describe(this.data, start); }
    return div;
  };
  Compare.prototype.build = function () {
    var self = this;
    Page.prototype.build.call(this);
    if (!this.live) return;
    var b = document.createElement("button");
    b.type = "button"; b.className = "gx-more-samples"; b.textContent = "More samples";
    b.title = "the next sample for every prompt: the same seed, the next draws";
    b.addEventListener("click", function () { self.more().catch(function () {}); });
    this.root.firstChild.appendChild(b);
  };
  Compare.prototype.more = function () { // the kernel draws the next sample of every prompt; resolved once shown
    var self = this, ask = "more " + (++this.moves);
    return new Promise(function (resolve, reject) {
      self.pending[ask] = { resolve: resolve, reject: reject };
      self.live.send({ type: "click", action: "more", ask: ask });
    });
  };
  Compare.prototype.moved = function (msg) {
    var self = this, p = this.pending[msg.ask];
    delete this.pending[msg.ask];
    this.status.textContent = msg.error || msg.said || "";
    this.status.classList.toggle("gx-said", !msg.error && !!msg.said);
    if (!p) return;
    if (msg.error) { p.reject(new Error(msg.error)); return; }
    this.ready().then(function () { requestAnimationFrame(function () { p.resolve(self.shown()); }); }, p.reject);
  };
  Compare.prototype.newData = function (data) { // more samples: the run's samples, fresh from the kernel
    for (var id in this.data.labels) if (data.labels[id] === undefined) data.labels[id] = this.data.labels[id];
    this.data = data;
    this.live.rows = {}; this.live.keys = []; this.live.dists = {}; this.live.draws = {}; // keyed by a sample's place in the data
    this.build();
  };
  Compare.prototype.shown = function () {
    return { kind: "compare", sample: this.sample, step: this.step, settings: copy(this.settings), error: this.error || null,
             exact: this.views.every(function (v) { return v.exact; }), bound: Math.max.apply(null, this.views.map(function (v) { return v.bound; })),
             columns: this.views.map(function (v, i) {
               var s = this.columns()[i];
               return { prompt: s.prompt, sample_index: s.index, exact: v.exact, bound: v.bound, drawn: v.marked, drawn_kind: v.kind,
                        drawn_sure: v.sure, tokens: tokensOf(v) };
             }, this), ms: this.lastMs };
  };

  // inspect: a scored text recoloured by the settings; the bars of one position. Live in a notebook,
  // the kernel sends the position's row (its bars are exact everywhere) and answers, for the settings
  // shown, each position's probability of the text's token: what the stored tokens leave undecided
  // waits for that answer, the rest is coloured at once.
  var COLOUR_MODES = ["allowed", "rank", "surprisal"];
  function Inspect(root, data) { Page.call(this, root, data); this.colour = "allowed"; }
  Inspect.prototype = Object.create(Page.prototype);
  Inspect.prototype.header = function () {
    var self = this, bar = Page.prototype.header.call(this);
    if (!this.data.colours) return bar; // a saved page colours by the settings only
    var lab = document.createElement("label"), sel = document.createElement("select");
    lab.className = "gx-control"; lab.innerHTML = "<span class='gx-name'>colour</span>";
    sel.className = "gx-colour";
    COLOUR_MODES.forEach(function (m) { var op = document.createElement("option"); op.value = m; op.textContent = m; sel.appendChild(op); });
    sel.addEventListener("change", function () { self.colour = sel.value; self.apply({ keepDraws: true }); });
    lab.appendChild(sel); bar.appendChild(lab);
    this.colourSelect = sel;
    return bar;
  };
  Inspect.prototype.syncHeader = function () {
    Page.prototype.syncHeader.call(this);
    if (this.colourSelect) this.colourSelect.value = this.colour;
  };
  Inspect.prototype.state = function () {
    var st = Page.prototype.state.call(this);
    if (this.data.colours) st.colour = this.colour;
    return st;
  };
  Inspect.prototype.set = function (o) {
    o = copy(o || {});
    if (o.colour !== undefined) {
      var modes = this.data.colours ? COLOUR_MODES : ["allowed"];
      if (modes.indexOf(o.colour) < 0) return Promise.reject(new Error("colour must be one of " + modes.join(", ") + ", got " + pyRepr(String(o.colour))));
      this.colour = o.colour;
      delete o.colour;
    }
    return Page.prototype.set.call(this, o);
  };
  Inspect.prototype.build = function () {
    Page.prototype.build.call(this);
    if (this.live) this.root.insertBefore(this.textBox, this.readout); // in a notebook the text sits by the sliders, above the bars
  };
  Inspect.prototype.render = function () {
    var self = this, data = this.data, sample = data.samples[0];
    this.syncHeader();
    this.say();
    if (this.error) return;
    var v = view(data, sample, this.step, this.settings, data.n, true, this.live);
    this.current = v;
    if (this.live) this.live.labelsFor(v);
    bars(this.figure, v, data, { log: this.log, draws: this.draws, heading: "Position " + this.step + ": the text has " + pyRepr(labelOf(data, sample.steps[this.step], sample.steps[this.step].token)) });
    var key = JSON.stringify(this.settings); // the text's colours change with the settings only, not with the position
    if (this.allowedKey !== key) { this.allowed = sample.steps.map(function (step, i) { return self.allowedAt(sample, i); }); this.allowedKey = key; this.told = null; }
    var told = this.live ? this.live.allowed(this.settings) : null; // the kernel's answer, or null (asked for)
    if (told && this.told !== told) {
      this.allowed = this.allowed.map(function (a, i) { return self.decided(sample, i, told.p[i], a.alt); });
      this.told = told;
    }
    var bad = this.allowed.filter(function (a) { return a.state === "impossible"; }).length;
    var maybe = this.allowed.filter(function (a) { return a.state === "maybe"; }).length;
    var lp = this.told ? " · log-prob under them " + (this.told.logprob === null ? "-∞" : number(this.told.logprob, 3)) : "";
    this.readout.innerHTML = "<b>" + bad.toLocaleString("en-US") + " of " + count(sample.steps.length, "token") + "</b> impossible under " + esc(describe(data, this.settings)) + lp +
      (maybe ? " · " + maybe + (this.live ? " undecided until the kernel answers" : " undecided by what the page stores") : "") +
      "<br>position " + this.step + ": " + readoutHtml(v, data, this.draws);
    var mode = data.colours && data.colours[this.colour] ? data.colours[this.colour] : null;
    var colours = this.allowed.map(function (a, i) {
      var fill = mode ? mode.fills[i] || ALLOWED : a.state === "impossible" ? IMPOSSIBLE : a.state === "maybe" ? MAYBE : ALLOWED;
      return { fill: fill, title: a.title };
    });
    var keyHtml;
    if (mode) keyHtml = "each token coloured by its " + esc(mode.what) + ": " + mode.legend.map(function (e) {
      return "<span style='background:" + esc(e[0]) + "'>&nbsp;" + esc(e[1]) + "&nbsp;</span>"; }).join(" ");
    else if (this.live) keyHtml = "each token coloured by the settings: <span style='background:" + ALLOWED + "'>&nbsp;allowed&nbsp;</span> " +
      "<span style='background:" + IMPOSSIBLE + "'>&nbsp;impossible (these settings could never write it)&nbsp;</span> · hover a token for its p; click it for its bars";
    else keyHtml = "the text, each token coloured by the settings: <span style='background:" + ALLOWED + "'>&nbsp;allowed&nbsp;</span> " +
      "<span style='background:" + IMPOSSIBLE + "'>&nbsp;impossible (these settings could never write it)&nbsp;</span> " +
      "<span style='background:" + MAYBE + "'>&nbsp;undecided by what the page stores&nbsp;</span> · hover a token for its " +
      "probability and the likeliest alternatives; click it for its bars";
    var legend = this.textBox.querySelector(".gx-key") || document.createElement("div");
    legend.className = "gx-key";
    if (this.keyHtml !== keyHtml || !legend.parentNode) { legend.innerHTML = keyHtml; this.keyHtml = keyHtml; }
    var before = this.textBox.querySelector(".gx-text"), spans = before ? before.querySelectorAll(".gx-token") : [];
    if (before && this.panelOf === sample && spans.length === sample.pieces.length) {
      // the same text: new colours in place (paint only, no layout to force); its place kept unless the position moved
      for (var i = 0; i < spans.length; i++) {
        colourToken(spans[i], sample, i, colours);
        spans[i].classList.toggle("gx-current", i === this.step);
      }
      if (this.panelStep !== this.step) keepInView(before, before.scrollTop);
      if (!this.scrollChecked) this.checkScroll(before);
      this.panelStep = this.step;
      return;
    }
    var panel = textPanel(sample, this.step, function (i) { self.setStep(i); self.apply({}); }, colours);
    this.textBox.replaceChildren(legend, panel);
    this.panelOf = sample; this.panelStep = this.step; this.scrollChecked = false;
    keepInView(panel, before ? before.scrollTop : 0);
    this.checkScroll(panel);
  };
  Inspect.prototype.checkScroll = function (panel) { // a text that scrolls says so (a scroll bar can be hidden)
    if (!panel.clientHeight) return; // not laid out yet (a hidden output): asked again at the next redraw
    this.scrollChecked = true;
    var old = this.textBox.querySelector(".gx-scroll-note");
    if (old) old.remove();
    if (panel.scrollHeight <= panel.clientHeight + 1) return;
    var lines = parseFloat(getComputedStyle(panel).lineHeight), note = document.createElement("div");
    note.className = "gx-note gx-scroll-note";
    note.textContent = "↕ the text scrolls: " + Math.round(panel.clientHeight / lines) + " of its " +
      Math.round(panel.scrollHeight / lines) + " lines shown";
    this.textBox.appendChild(note);
  };
  function keepInView(panel, scrolled) { // a text that scrolls (the live inspect's) keeps its place and shows its current token
    panel.scrollTop = scrolled;
    var cur = panel.querySelector(".gx-current");
    if (!cur || panel.scrollHeight <= panel.clientHeight) return;
    var r = cur.getBoundingClientRect(), box = panel.getBoundingClientRect();
    if (r.top < box.top || r.bottom > box.bottom) panel.scrollTop += r.top - box.top - box.height / 3;
  }
  Inspect.prototype.allowedAt = function (sample, i) {
    var step = sample.steps[i], un = math.unpack(step), at = -1;
    for (var k = 0; k < un.ids.length; k++) if (un.ids[k] === step.token) { at = k; break; }
    var own = same(this.settings, step.settings, this.data);
    var kernel = !own && this.live && this.live.needsKernel(this.settings); // a sampler only the kernel computes
    var d = own ? { p: un.own, lo: un.own, hi: un.own, exact: true } :
      math.distribution(step, this.settings, this.live ? this.live.order(this.settings) : this.data.samplers, contextOf(sample, i), true); // read at once
    var lo = d.lo[at], hi = d.hi[at], p = d.p[at];
    var state = kernel ? "maybe" : hi === 0 ? "impossible" : lo > 0 || p > 0 && d.exact !== false ? "allowed" : "maybe";
    var alt = [];
    for (k = 0; k < Math.min(5, un.ids.length); k++) alt.push(this.data.labels[String(un.ids[k])] + " " + prob(d.p[k]));
    return this.titled(sample, i, state, p, kernel ? [] : alt);
  };
  Inspect.prototype.decided = function (sample, i, p, alt) { // a position the kernel decided: its p is Python's
    return this.titled(sample, i, p > 0 ? "allowed" : "impossible", p, alt);
  };
  Inspect.prototype.titled = function (sample, i, state, p, alt) {
    var step = sample.steps[i];
    return { state: state, p: p, alt: alt, title: "position " + i + " · " + labelOf(this.data, step, step.token) + ": p " + prob(p) + " under these settings" +
             (state === "impossible" ? " (impossible)" : "") + (alt.length ? "\nlikeliest: " + alt.join(" · ") : "") };
  };
  Inspect.prototype.shown = function () {
    var v = this.current;
    return { kind: "inspect", step: this.step, settings: copy(this.settings), error: this.error || null, exact: v.exact, bound: v.bound,
             drawn: v.marked, drawn_kind: v.kind, tokens: tokensOf(v), allowed: this.allowed.map(function (a) { return a.state; }),
             probs: this.allowed.map(function (a) { return a.p; }), ms: this.lastMs, colour: this.colour, live: !!this.live,
             impossible: this.told ? this.told.impossible : null, logprob: this.told ? this.told.logprob : null,
             labels: v.labels };
  };

  // ---- live in a notebook: the kernel sends what the figure needs (an anywidget's model) ------------
  // Each shown step's full logits row comes as binary buffers (ids in the row's order, float64 logits and
  // the step's own distribution), so math.distribution has no groups left to bound: every setting is exact.
  // A sampler the browser cannot compute (one registered in Python) is computed by the kernel.
  var ROWS_KEPT = 12; // at least: a page with several columns keeps three rows of each
  function Live(model, page) {
    var self = this;
    this.model = model; this.page = page; this.rows = {}; this.keys = []; this.dists = {}; this.draws = {}; this.waiting = {}; this.waiters = []; this.ahead = {};
    this.sent = null; this.timer = null;
    this.onMsg = function (msg, buffers) { self.receive(msg, buffers || []); };
    model.on("msg:custom", this.onMsg);
  }
  Live.prototype.send = function (msg) { this.model.send(msg); };
  Live.prototype.layerKey = function () { var p = this.page; return p.layer === undefined || p.layer === p.data.layers ? null : p.layer; };
  Live.prototype.key = function (sample, index) {
    return this.page.data.samples.indexOf(sample) + ":" + index + ":" + this.layerKey();
  };
  Live.prototype.ask = function (key, msg) {
    if (this.waiting[key]) return;
    this.waiting[key] = true;
    msg.ask = key; // the kernel's reply names what it answers
    this.send(msg);
  };
  Live.prototype.step = function (sample, index) { // the live row of a step, or null (asked for)
    var key = this.key(sample, index), row = this.rows[key];
    if (!row && this.ahead["row " + key]) { this.waiting["row " + key] = true; return null; } // asked ahead: on its way
    if (!row) this.ask("row " + key, { type: "row", key: key, sample: this.page.data.samples.indexOf(sample), step: index, layer: this.layerKey() });
    else [1, -1, 2, -2].forEach(function (d) { this.prefetch(sample, index + d); }, this); // a step slider moves a step at a time: two ahead
    return row || null;
  };
  Live.prototype.prefetch = function (sample, index) { // a neighbour's row, asked ahead; nothing waits for it
    if (index < 0 || index >= sample.steps.length) return;
    var key = this.key(sample, index), ask = "row " + key;
    if (this.rows[key] || this.waiting[ask] || this.ahead[ask]) return;
    this.ahead[ask] = true;
    this.send({ type: "row", key: key, sample: this.page.data.samples.indexOf(sample), step: index, layer: this.layerKey(), ask: ask });
  };
  Live.prototype.kernelNames = function () {
    return this.page.data.samplers.filter(function (sp) { return sp.kernel; }).map(function (sp) { return sp.name; });
  };
  Live.prototype.needsKernel = function (settings) {
    return this.page.data.samplers.some(function (sp) { return sp.kernel && settings[sp.name] !== sp.off; });
  };
  Live.prototype.order = function () { return this.page.data.samplers.filter(function (sp) { return !sp.kernel; }); };
  Live.prototype.dist = function (sample, index, settings) { // the kernel's distribution at settings, or null (asked for)
    var key = this.key(sample, index) + " " + JSON.stringify(settings);
    if (this.dists[key]) return this.dists[key];
    if (!this.rows[this.key(sample, index)]) return null; // the row first: the answer comes in its order
    this.ask("dist " + key, { type: "dist", key: key, sample: this.page.data.samples.indexOf(sample), step: index, layer: this.layerKey(), settings: settings });
    return null;
  };
  Live.prototype.allowed = function (settings) { // the inspector's: each position's p of its token at settings, or null (asked for)
    var key = "allowed " + JSON.stringify(settings);
    this.told = this.told || {};
    if (this.told[key]) return this.told[key];
    for (var k in this.waiting) if (k.indexOf("allowed ") === 0) return null; // one at a time: the latest settings are asked next
    this.ask(key, { type: "allowed", key: key, settings: settings });
    return null;
  };
  Live.prototype.drawn = function (sample, index, settings, own, step) { // what a step's Gumbel noise draws at settings
    var layer = this.layerKey();
    if (own && layer === null) return { id: step.token, sure: true }; // its own settings: the token it drew
    var key = this.key(sample, index) + " " + JSON.stringify(settings), got = this.draws[key];
    if (got !== undefined) return { id: got, sure: true };
    this.ask("drawn " + key, { type: "drawn", key: key, sample: this.page.data.samples.indexOf(sample), step: index, layer: layer, settings: settings });
    return { id: null, sure: false, pending: true };
  };
  Live.prototype.labelsFor = function (v) { // ask for the labels of shown tokens the data lacks
    var data = this.page.data, missing = [];
    v.ids.concat([v.marked, v.runToken]).forEach(function (id) {
      if (id !== null && data.labels[String(id)] === undefined && missing.indexOf(id) < 0) missing.push(id);
    });
    if (missing.length) this.ask("labels " + missing.join(","), { type: "labels", key: "labels " + missing.join(","), ids: missing });
  };
  function f64of(b, Type) { // a buffer (DataView or ArrayBuffer) as a typed array
    var buf = b.buffer ? b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) : b;
    return new Type(buf);
  }
  Live.prototype.receive = function (msg, buffers) {
    var data = this.page.data;
    if (msg.type === "moved") { this.page.moved(msg); return; }
    if (msg.labels) for (var id in msg.labels) data.labels[id] = msg.labels[id];
    if (msg.type === "row") {
      var parts = msg.key.split(":"), sample = data.samples[parseInt(parts[0], 10)], stored = sample.steps[parseInt(parts[1], 10)];
      var ids = f64of(buffers[0], Int32Array), logits = f64of(buffers[1], Float64Array), own = f64of(buffers[2], Float64Array);
      this.rows[msg.key] = {
        _live: true, token: stored.token, u: stored.u, forced: stored.forced, settings: stored.settings,
        own_kept: msg.own_kept, own_entropy: msg.own_entropy, own_rest: 0,
        _u: { ids: ids, logits: logits, own: own, n: new Int32Array(0), lo: new Float32Array(0), hi: new Float32Array(0),
              s: new Float64Array(0), gown: new Float64Array(0) }
      };
      this.keys.push(msg.key);
      var most = Math.max(ROWS_KEPT, 6 * (this.page.columns ? this.page.columns().length : 1)); // each column's step and four neighbours
      while (this.keys.length > most) delete this.rows[this.keys.shift()];
    }
    if (msg.type === "dist") {
      var row = this.rows[msg.key.split(" ")[0]], p = f64of(buffers[0], Float64Array), kept = 0, h = 0;
      for (var i = 0; i < p.length; i++) if (p[i] > 0) { kept++; h -= p[i] * Math.log(p[i]); }
      this.dists[msg.key] = { drawn: msg.drawn, dist: {
        ids: row ? row._u.ids : new Int32Array(0), z: row ? row._u.logits : new Float64Array(0), p: p, lo: p, hi: p, exact: true, bound: 0,
        keptLo: kept, keptHi: kept, entropy: h, entropyExact: true, gzlo: [], gzhi: [], gpLo: [], gpHi: [], lost: false } };
    }
    if (msg.type === "allowed") {
      this.told = this.told || {}; this.toldKeys = this.toldKeys || [];
      this.told[msg.key] = { p: f64of(buffers[0], Float64Array), impossible: msg.impossible, logprob: msg.logprob };
      this.toldKeys.push(msg.key);
      while (this.toldKeys.length > ROWS_KEPT) delete this.told[this.toldKeys.shift()];
    }
    if (msg.type === "drawn") this.draws[msg.key] = msg.drawn;
    if (msg.type === "why") this.page.whys[msg.key] = msg;
    if (msg.type === "status" && String(msg.key).indexOf("why:") === 0) this.page.whys[msg.key] = { notes: [msg.text], attribution: null, attention: null };
    if (msg.type === "status") this.page.kernelSays(msg.text);
    if (msg.type === "summary" && this.page.summaries) this.page.summaries[msg.key] = msg.html;
    var wanted = msg.type !== "row" || !this.ahead[msg.ask] || this.waiting[msg.ask]; // a row asked ahead and not yet shown: no redraw
    delete this.ahead[msg.ask];
    delete this.waiting[msg.ask];
    if ((msg.type !== "status" || String(msg.key).indexOf("why:") === 0) && wanted) this.page.apply({ keepDraws: true });
    this.settle();
  };
  Live.prototype.ready = function () {
    var self = this;
    return new Promise(function (resolve) { self.waiters.push(resolve); self.settle(); });
  };
  Live.prototype.settle = function () { // resolve the waiters once nothing is on its way from the kernel
    if (Object.keys(this.waiting).length) return;
    var w = this.waiters; this.waiters = [];
    w.forEach(function (r) { r(); });
  };
  Live.prototype.sync = function () { // the controls' state to the kernel (its Python object follows them)
    var self = this;
    if (this.timer) return;
    this.timer = setTimeout(function () {
      self.timer = null;
      var st = self.page.state(), text = JSON.stringify(st);
      if (text === self.sent) return;
      self.sent = text;
      self.model.set("state", st);
      self.model.save_changes();
    }, 60);
  };
  Live.prototype.fromKernel = function () { // the kernel moved the controls (Python set a value)
    var st = this.model.get("state") || {}, text = JSON.stringify(st);
    if (text === this.sent) return Promise.resolve();
    this.sent = text;
    var o = copy(st.settings || {});
    ["sample", "step", "log", "layer"].forEach(function (k) { if (st[k] !== undefined && st[k] !== null) o[k] = st[k]; });
    if (st.click) this.page.click = st.click;
    if (st.colour) o.colour = st.colour; // the inspector's colour mode
    return this.page.set(o).catch(function (err) { if (window.console) console.error(err); });
  };
  Live.prototype.close = function () { this.model.off("msg:custom", this.onMsg); clearTimeout(this.timer); };
  Page.prototype.kernelSays = function (text) { this.status.textContent = text; this.settingsSaid = true; }; // until the next redraw

  var GONE_MS = 1000; // how long a widget without a view waits before it tells the kernel
  // an anywidget's render: the page in the widget's element, its data from the kernel
  GX.render = function (ctx) {
    var model = ctx.model, el = ctx.el, data = model.get("data");
    var root = document.createElement("div");
    root.className = "gx-page gx-live gx-" + data.kind;
    root.setAttribute("role", "figure");
    root.setAttribute("aria-label", data.title || "gpt2explore " + data.kind);
    el.appendChild(root);
    var body = document.createElement("div");
    body.className = "gx-body";
    root.appendChild(body);
    var page = new KINDS[data.kind](body, data);
    page.live = new Live(model, page);
    model.gxViews = (model.gxViews || 0) + 1;
    if (data.layers) page.layer = data.layers;
    if (data.clicks) page.click = data.clicks[0][1];
    var st = model.get("state") || {};
    if (st.settings) for (var k in st.settings) if (k in page.settings) page.settings[k] = st.settings[k];
    if (st.sample) page.sample = st.sample;
    if (st.step) page.step = st.step;
    if (st.log) page.log = !!st.log;
    if (st.layer !== undefined && st.layer !== null) page.layer = st.layer;
    if (st.click) page.click = st.click;
    if (st.colour) page.colour = st.colour;
    page.live.sent = JSON.stringify(st);
    page.build();
    var onState = function () { page.live.fromKernel(); };
    model.on("change:state", onState);
    var onData = function () { if (page.newData) { page.newData(model.get("data")); root.gx.data = page.data; } };
    model.on("change:data", onData);
    root.gx = el.gx = {
      set: function (o) { return page.set(o || {}); },
      shown: function () { return page.shown(); },
      draw: function (n) { return page.draw(n === undefined ? 100 : n); },
      ready: function () { return page.ready().then(function () { return page.shown(); }); },
      data: data, version: data.format, live: true
    };
    if (page.next) root.gx.next = function (n) { return page.next(n === undefined ? 1 : n); };
    if (page.whyBox) root.gx.why = function (o) { return page.why(o); };
    if (page.more) root.gx.more = function () { return page.more(); };
    return function () {
      model.off("change:state", onState); model.off("change:data", onData); page.live.close();
      // the last view gone (its cell re-run or cleared): the kernel closes the widget and lets go of
      // its run, unless a view comes back at once (an output moved or re-rendered)
      model.gxViews -= 1;
      if (model.gxViews === 0) setTimeout(function () {
        if (model.gxViews === 0) try { model.send({ type: "gone" }); } catch (err) { /* the kernel is gone too */ }
      }, GONE_MS);
    };
  };

  var KINDS = { explorer: Explorer, stepper: Stepper, compare: Compare, inspect: Inspect };

  GX.mount = function (root) {
    if (root.gx) return root.gx;
    var script = root.querySelector("script.gx-data");
    var data = JSON.parse(script.textContent);
    var body = document.createElement("div");
    body.className = "gx-body";
    root.appendChild(body);
    var page = new KINDS[data.kind](body, data);
    var open = data.open || {}; // where the widget was when the page was saved
    if (open.sample) page.sample = open.sample;
    if (open.step) page.step = open.step;
    if (open.log) page.log = !!open.log;
    if (open.colour) page.colour = open.colour;
    page.build();
    root.gx = {
      set: function (o) { return page.set(o || {}); },
      shown: function () { return page.shown(); },
      draw: function (n) { return page.draw(n === undefined ? 100 : n); },
      data: data, version: data.format
    };
    return root.gx;
  };
  GX.mountAll = function () {
    Array.prototype.forEach.call(document.querySelectorAll(".gx-page"), function (root) {
      try { GX.mount(root); } catch (err) { root.textContent = "gpt2explore page: " + err.message; if (window.console) console.error(err); }
    });
  };
  GX.format = { prob: prob, number: number, value: value, describe: describe };
})();
