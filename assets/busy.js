/* One progress bar for the whole page while callbacks run.
 *
 * A thin bar at the top of the window slides while any callback request is in flight (it
 * shows only after 300 ms, so a quick answer does not flash it); the outputs being computed are
 * dimmed by the stylesheet from Dash's own data-dash-is-loading marker (assets/app.css). This
 * replaces a dcc.Loading spinner around every output: each one was re-rendered with its
 * children when its callback started and ended, 100-300 ms of the browser's main thread per
 * click (docs/benchmarks.md, "One progress bar instead of a spinner per output"). The bar is
 * one element outside the React tree, switched by a class: no component renders again.
 */
(function () {
    "use strict";

    var pending = 0;
    var bar = null;

    function show(on) {
        if (!bar) {
            bar = document.createElement("div");
            bar.id = "busy-bar";
            bar.setAttribute("role", "progressbar");
            bar.setAttribute("aria-label", "Computing");
            document.body.appendChild(bar);
        }
        bar.classList.toggle("busy", on);
    }

    var realFetch = window.fetch;
    window.fetch = function (url) {
        var promise = realFetch.apply(this, arguments);
        if (String(url).indexOf("_dash-update-component") < 0) return promise;
        pending += 1;
        if (pending === 1) show(true);
        var done = function () {
            pending = Math.max(0, pending - 1);
            if (!pending) show(false);
        };
        promise.then(done, done);
        return promise;
    };
})();
