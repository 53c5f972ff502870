// The page checker of tests/test_report_browser.py, run inside kaleido 0.2.1's headless
// Chromium (see tests/headless_browser.py for why that browser and how it is driven).
//
// kaleido starts Chromium on a blank page of its own, runs this file there (its
// --plotlyjs option takes a local script), then its own bundle `kaleido_scopes.js`, and
// then, for each JSON line on its stdin, calls `kaleido_scopes.plotly(spec)` and prints
// the JSON of what the returned promise resolves to. The bundle is UMD: with `module`
// defined it exports into `module.exports` and leaves the `kaleido_scopes` below alone.
//
// check(spec) loads spec.html into an iframe of spec.width_px x spec.height_px, with
// one script inserted first in its <head> that records console.error (and .warn)
// calls, uncaught errors, failed resource loads and unhandled promise rejections; waits until every
// plotly graph div has been drawn (an SVG .main-svg inside each .js-plotly-plot) or
// spec.timeout_ms has passed; and resolves to the page's errors, plots and text.
(function () {
  "use strict";
  window.module = {exports: {}};
  window.exports = window.module.exports;
  var HOOK = "<script>(function () { var errors = [], warnings = [];" +
    " window.__pageErrors = errors; window.__pageWarnings = warnings;" +
    " var error = console.error, warn = console.warn;" +
    " console.error = function () {" +
    " errors.push('console.error: ' + Array.prototype.join.call(arguments, ' '));" +
    " return error.apply(console, arguments); };" +
    " console.warn = function () {" +
    " warnings.push(Array.prototype.join.call(arguments, ' '));" +
    " return warn.apply(console, arguments); };" +
    " window.addEventListener('error', function (e) { errors.push('error: ' + (e.message ||" +
    " (e.target && (e.target.src || e.target.href)) || 'a resource failed')); }, true);" +
    " window.addEventListener('unhandledrejection', function (e) {" +
    " errors.push('unhandled rejection: ' + e.reason); }); })();<\/script>";

  function report(frame, divs) {
    var doc = frame.contentDocument, win = frame.contentWindow;
    var plots = Array.prototype.slice.call(doc.querySelectorAll(".js-plotly-plot"));
    return {
      errors: win.__pageErrors || ["the error hook did not run"],
      warnings: win.__pageWarnings || [],
      title: doc.title, compat_mode: doc.compatMode, graph_divs: divs,
      plots: plots.map(function (p) {
        return {id: p.id, svgs: p.querySelectorAll("svg").length,
                traces: (p.data || []).length,
                marks: p.querySelectorAll(".point, .bars path").length};
      }),
      external: Array.prototype.slice.call(doc.querySelectorAll("script[src], link[href]"))
        .map(function (e) { return e.src || e.href; }),
      text: doc.body ? doc.body.innerText : ""
    };
  }

  function check(spec) {
    return new Promise(function (resolve) {
      var frame = document.createElement("iframe");
      frame.style.width = spec.width_px + "px";
      frame.style.height = spec.height_px + "px";
      frame.onload = function () {
        var start = Date.now();
        (function poll() {
          var doc = frame.contentDocument;
          var divs = doc.querySelectorAll(".plotly-graph-div").length;
          var drawn = doc.querySelectorAll(".js-plotly-plot svg.main-svg").length;
          var done = doc.querySelectorAll(".js-plotly-plot").length;
          if ((done === divs && drawn >= divs) || Date.now() - start > spec.timeout_ms) {
            resolve(report(frame, divs));
          } else {
            setTimeout(poll, 50);
          }
        })();
      };
      var html = spec.html;
      var head = /<head[^>]*>/i.exec(html);
      frame.srcdoc = head ? html.slice(0, head.index + head[0].length) + HOOK +
        html.slice(head.index + head[0].length) : HOOK + html;
      document.body.appendChild(frame);
    });
  }

  window.kaleido_scopes = {plotly: check};
})();
