/* Each chart is drawn once per change.
 *
 * dcc.Graph watches its box and calls Plotly.Plots.resize whenever the box changes size
 * (dash/dcc ResizeDetector, forced). When a figure arrives with another height than the one
 * before (a heatmap with one row per cluster, a chart replacing its empty placeholder), the
 * box grows with the figure, and Plots.resize redraws the whole chart 150 ms later at the
 * size it already has: 30-70 ms of the browser's main thread per chart, measured in headless
 * Chromium (docs/benchmarks.md, "Each chart drawn once per change").
 *
 * A chart whose figure sets its own height needs drawing again only when its width changed
 * (a window or a phone turned, a panel opened): Plots.resize skips the others. Plotly's own
 * window handler goes through the same function, so it keeps working.
 */
(function () {
    "use strict";

    function widthOnly(resize) {
        function resizeWhenWidthChanged(gd) {
            var el = typeof gd === "string" ? document.getElementById(gd) : gd;
            var full = el && el._fullLayout;
            var layout = el && el.layout;
            if (full && layout && layout.height && !layout.width && !el._redrawTimer) {
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

    /* True once Plots.resize is wrapped (plotly.js loads after this file, asynchronously). */
    function install() {
        var plots = window.Plotly && window.Plotly.Plots;
        if (!plots || typeof plots.resize !== "function") return false;
        if (!plots.resize.widthOnly) plots.resize = widthOnly(plots.resize);
        return true;
    }

    if (!install()) {
        var timer = setInterval(function () {
            if (install()) clearInterval(timer);
        }, 25);
    }

})();
