/* Purely visual switches and panels, applied in the browser with no server request.
 *
 * The server sends every variant of such a figure at once in a dcc.Store ("<graph>-choices",
 * {choice value: figure}); the switch (a URL control, dashapp.web.controls.visual_switch)
 * only picks one. Switching the R x F grid's colour or the tracking plot's weekly /
 * cumulative view therefore costs no round trip.
 */
(function () {
    "use strict";
    /* Below this window width a figure takes its "narrow" variant when it has one. */
    var NARROW_PX = 576;

    /* A figure may carry layout.meta.narrow = {data: [trace overrides], layout: {...}}: on
     * a phone-sized window those replace the wide figure's (e.g. the R x F grid's cells show
     * their customer count alone, so labels do not overlap). */
    function forWindow(figure) {
        var narrow = figure && figure.layout && figure.layout.meta && figure.layout.meta.narrow;
        if (!narrow || window.innerWidth >= NARROW_PX) return figure;
        var traces = narrow.data || [];
        return Object.assign({}, figure, {
            data: (figure.data || []).map(function (trace, i) {
                return Object.assign({}, trace, traces[i] || {});
            }),
            layout: Object.assign({}, figure.layout, narrow.layout || {})
        });
    }

    window.dash_clientside = Object.assign({}, window.dash_clientside, {
        switches: {
            pick: function (figures, choice) {
                if (!figures) return window.dash_clientside.no_update;
                if (Object.prototype.hasOwnProperty.call(figures, choice)) {
                    return forWindow(figures[choice]);
                }
                /* a value the server refused (its message is on the page): the first variant */
                var keys = Object.keys(figures);
                return keys.length ? forWindow(figures[keys[0]]) : window.dash_clientside.no_update;
            },

            /* A collapsible panel's button: open / close it, and say what a click does
             * (``showLabel``, an optional State, is the button's text while closed). */
            toggle: function (_clicks, isOpen, showLabel) {
                var show = showLabel || "Show the method's diagnostic curve";
                return [!isOpen, isOpen ? show : "Hide"];
            },

            /* Pass the inputs on (a new value of the store) only while the panel is open, and
             * only when they differ from what the panel shows: a closed panel costs nothing. */
            gate: function (isOpen) {
                var nu = window.dash_clientside.no_update;
                if (!isOpen) return nu;
                var values = Array.prototype.slice.call(arguments, 1, arguments.length - 1);
                var shown = arguments[arguments.length - 1];
                return JSON.stringify(values) === JSON.stringify(shown) ? nu : values;
            }
        }
    });
})();
