/* Each chart is drawn once per change.
 *
 * dcc.Graph watches its box and calls Plotly.Plots.resize whenever the box changes size
 * (dash/dcc ResizeDetector, forced). When a figure arrives with another height than the one
 * before (a heatmap with one row per cluster, a chart replacing its empty placeholder), the
 * box grows with the figure, and Plots.resize redraws the whole chart 100 ms later at the
 * size it already has: 30-70 ms of the browser's main thread per chart, measured in headless
 * Chromium (docs/benchmarks.md, "Each chart drawn once per change").
 *
 * A chart whose figure sets its own height needs drawing again only when its width changed
 * (a window or a phone turned, a panel opened): Plots.resize skips the others. A resize still
 * pending from an earlier width change is not lost: its timer draws at the width of the moment
 * it fires. Plotly's own window handler goes through the same function, so it keeps working.
 *
 * The wrapper is put on every plotly.js that becomes window.Plotly (dcc.Graph loads it
 * asynchronously, after this file), through a setter on window.Plotly.
 */
(function () {
    "use strict";

    function widthOnly(resize) {
        function resizeWhenWidthChanged(gd) {
            var el = typeof gd === "string" ? document.getElementById(gd) : gd;
            var full = el && el._fullLayout;
            var layout = el && el.layout;
            if (full && layout && layout.height && !layout.width) {
                // the width Plotly would size the chart to (plots.plotAutoSize reads it so)
                var width = parseFloat(window.getComputedStyle(el).width);
                if (width && Math.abs(width - full.width) < 1) {
                    return Promise.resolve(el);
                }
            }
            return resize.apply(this, arguments);
        }
        resizeWhenWidthChanged.widthOnly = true;
        return resizeWhenWidthChanged;
    }

    function wrap(plotly) {
        var plots = plotly && plotly.Plots;
        if (plots && typeof plots.resize === "function" && !plots.resize.widthOnly) {
            plots.resize = widthOnly(plots.resize);
        }
        return plotly;
    }

    var current = window.Plotly;
    try {
        Object.defineProperty(window, "Plotly", {
            configurable: true,
            enumerable: true,
            get: function () { return current; },
            set: function (plotly) { current = wrap(plotly); },
        });
        wrap(current);
    } catch (e) {
        // window.Plotly not redefinable here: wrap whatever arrives, as often as it arrives
        setInterval(function () { wrap(window.Plotly); }, 250);
    }
})();
