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
//
// With spec.slider_suffix, it then moves the slider of the chart whose id ends with it
// the way a user does: a mousedown (and mouseup) on the slider's rail at the tick of
// the step farthest from the active one, which runs plotly's own slider handler (it
// executes the step's `update`); only if that leaves the step unchanged does it run the
// step's arguments itself with Plotly.update (`via` says which). It records the
// visible traces and their drawn SVG paths before and after, and the chart, as drawn
// after the move, as a PNG (Plotly.toImage in the page: kaleido has no page screenshot).
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
                marks: p.querySelectorAll(".point, .bars path, .scatterlayer .js-line")
                  .length};
      }),
      external: Array.prototype.slice.call(doc.querySelectorAll("script[src], link[href]"))
        .map(function (e) { return e.src || e.href; }),
      text: doc.body ? doc.body.innerText : ""
    };
  }

  function snapshot(gd) {
    var visible = (gd.data || []).filter(function (t) { return t.visible === true; });
    return {
      active: gd.layout.sliders[0].active,
      title: gd.layout.title && (gd.layout.title.text || gd.layout.title),
      traces: visible.map(function (t) {
        return {name: t.name, points: (t.x || []).length,
                y_sum: (t.y || []).reduce(function (a, b) { return a + b; }, 0)};
      }),
      paths: Array.prototype.map.call(gd.querySelectorAll(".scatterlayer .js-line"),
        function (e) { return e.getAttribute("d"); }).join("|")
    };
  }

  function moveSlider(frame, suffix) {
    var doc = frame.contentDocument, win = frame.contentWindow;
    var gd = Array.prototype.filter.call(doc.querySelectorAll(".js-plotly-plot"),
      function (p) { return p.id.slice(-suffix.length) === suffix; })[0];
    if (!gd || !gd.layout.sliders) {
      return Promise.resolve({error: "no chart with a slider ends with " + suffix});
    }
    var before = snapshot(gd);
    var steps = gd.layout.sliders[0].steps;
    var target = before.active === 0 ? steps.length - 1 : 0;
    var ticks = gd.querySelectorAll(".slider-tick-rect");
    var rail = gd.querySelector(".slider-rail-touch-rect");
    var via = "mouse";
    if (ticks.length === steps.length && rail) {
      var at = ticks[target].getBoundingClientRect();
      var box = rail.getBoundingClientRect();
      var init = {bubbles: true, cancelable: true, view: win, button: 0,
                  clientX: at.left + at.width / 2, clientY: box.top + box.height / 2};
      rail.dispatchEvent(new win.MouseEvent("mousedown", init));
      rail.dispatchEvent(new win.MouseEvent("mouseup", init));
      win.dispatchEvent(new win.MouseEvent("mouseup", init));
    }
    return new Promise(function (resolve) { setTimeout(resolve, 800); }).then(function () {
      if (gd.layout.sliders[0].active !== target) {
        via = "Plotly.update";
        return win.Plotly.update(gd, steps[target].args[0], steps[target].args[1])
          .then(function () {
            return win.Plotly.relayout(gd, {"sliders[0].active": target});
          });
      }
      return null;
    }).then(function () {
      var after = snapshot(gd);
      return win.Plotly.toImage(gd, {format: "png", width: 1000, height: 520})
        .then(function (png) {
          return {id: gd.id, via: via, target: target, before: before, after: after,
                  png: png};
        });
    });
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
            var seen = report(frame, divs);
            if (!spec.slider_suffix) {
              resolve(seen);
              return;
            }
            moveSlider(frame, spec.slider_suffix).then(function (slider) {
              seen.slider = slider;
              resolve(seen);
            }, function (e) {
              seen.slider = {error: String(e)};
              resolve(seen);
            });
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
