// Barwise report: draws the charts (sortable.js, loaded first, handles the tables and errors). Self-contained: no network,
// no libraries. Reads the JSON in <script id="barwise-data">. Test hooks: <body data-rendered>,
// data-series (series drawn) and data-markers (trade markers drawn); data-error on any error.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("barwise-data").textContent);
  var n = data.price.t.length;
  var view = { from: 0, to: Math.max(n - 1, 1) };
  var charts = [];

  function fmtTime(ms) { return new Date(ms).toISOString().replace("T", " ").slice(0, 16); }

  function chart(id, series, opts) {
    var canvas = document.getElementById(id);
    var ctx = canvas.getContext("2d");
    function draw() {
      var w = canvas.width = canvas.clientWidth * (window.devicePixelRatio || 1);
      var h = canvas.height = canvas.clientHeight * (window.devicePixelRatio || 1);
      ctx.clearRect(0, 0, w, h);
      var lo = Infinity, hi = -Infinity;
      series.forEach(function (s) {
        for (var i = view.from; i <= view.to && i < n; i++) {
          var a = s.low ? s.low[i] : s.values[i], b = s.high ? s.high[i] : s.values[i];
          if (a < lo) lo = a;
          if (b > hi) hi = b;
        }
      });
      if (!(hi > lo)) { hi = lo + 1; }
      var pad = 28 * (window.devicePixelRatio || 1);
      function x(i) { return pad + (i - view.from) / Math.max(view.to - view.from, 1) * (w - 2 * pad); }
      function y(v) { return h - pad - (v - lo) / (hi - lo) * (h - 2 * pad); }
      ctx.fillStyle = "#666"; ctx.font = (11 * (window.devicePixelRatio || 1)) + "px sans-serif";
      // Value labels at the top and bottom left, time labels along the bottom edge.
      ctx.fillText(opts.fmt(hi), 2, pad - 6); ctx.fillText(opts.fmt(lo), 2, h - pad - 4);
      ctx.fillText(fmtTime(data.price.t[view.from]), pad, h - 4);
      var last = fmtTime(data.price.t[Math.min(view.to, n - 1)]);
      ctx.fillText(last, w - pad - ctx.measureText(last).width, h - 4);
      series.forEach(function (s) {
        if (s.low) {
          ctx.fillStyle = s.band;
          for (var i = view.from; i <= view.to && i < n; i++) {
            ctx.fillRect(x(i), y(s.high[i]), Math.max(1, (w - 2 * pad) / (view.to - view.from + 1)), Math.max(1, y(s.low[i]) - y(s.high[i])));
          }
        }
        ctx.strokeStyle = s.color; ctx.lineWidth = 1.5; ctx.beginPath();
        for (var j = view.from; j <= view.to && j < n; j++) {
          var v = s.values[j];
          if (j === view.from) ctx.moveTo(x(j), y(v)); else ctx.lineTo(x(j), y(v));
        }
        ctx.stroke();
      });
      var drawn = 0;
      (opts.markers || []).forEach(function (m) {
        if (m.i < view.from || m.i > view.to) return;
        var px = x(m.i), py = y(m.price), up = m.kind !== "exit" && m.kind !== "entry_short";
        ctx.fillStyle = m.kind === "exit" ? "#333" : (up ? "#1a8f3c" : "#c0392b");
        ctx.beginPath();
        if (up) { ctx.moveTo(px, py + 2); ctx.lineTo(px - 4, py + 10); ctx.lineTo(px + 4, py + 10); }
        else { ctx.moveTo(px, py - 2); ctx.lineTo(px - 4, py - 10); ctx.lineTo(px + 4, py - 10); }
        ctx.fill();
        drawn++;
      });
      return drawn;
    }
    canvas.addEventListener("wheel", function (e) {
      e.preventDefault();
      var r = canvas.getBoundingClientRect();
      var frac = (e.clientX - r.left) / r.width;
      var span = view.to - view.from, centre = view.from + frac * span;
      var next = Math.max(10, Math.min(n - 1, Math.round(span * (e.deltaY > 0 ? 1.25 : 0.8))));
      view.from = Math.max(0, Math.round(centre - frac * next));
      view.to = Math.min(n - 1, view.from + next);
      redraw();
    }, { passive: false });
    canvas.addEventListener("dblclick", function () { view.from = 0; view.to = Math.max(n - 1, 1); redraw(); });
    var dragging = null;
    canvas.addEventListener("mousedown", function (e) { dragging = { x: e.clientX, from: view.from, to: view.to }; });
    window.addEventListener("mouseup", function () { dragging = null; });
    window.addEventListener("mousemove", function (e) {
      if (!dragging) return;
      var span = dragging.to - dragging.from;
      var shift = Math.round((dragging.x - e.clientX) / canvas.clientWidth * span);
      view.from = Math.max(0, Math.min(n - 1 - span, dragging.from + shift));
      view.to = view.from + span;
      redraw();
    });
    return { draw: draw, series: series.length };
  }

  function redraw() {
    var markers = 0;
    charts.forEach(function (c) { markers += c.draw(); });
    return markers;
  }

  var pct = function (v) { return (v * 100).toFixed(2) + " %"; };
  var num = function (v) { return Number(v).toPrecision(6); };
  charts.push(chart("price", [{ values: data.price.close, low: data.price.low, high: data.price.high, color: "#1f4e79", band: "rgba(31,78,121,0.15)" }], { fmt: num, markers: data.markers }));
  charts.push(chart("equity", [{ values: data.equity, color: "#1a8f3c" }, { values: data.buy_and_hold, color: "#999" }], { fmt: num }));
  charts.push(chart("drawdown", [{ values: data.drawdown.map(function (d) { return -d; }), color: "#c0392b" }], { fmt: pct }));
  var markers = redraw();
  window.addEventListener("resize", redraw);
  var series = charts.reduce(function (a, c) { return a + c.series; }, 0);
  document.body.dataset.series = String(series);
  document.body.dataset.markers = String(markers);
  document.body.dataset.rendered = "ok";
})();
