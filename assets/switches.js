/* Purely visual switches and panels, applied in the browser with no server request.
 *
 * The server sends every variant of such a figure at once in a dcc.Store ("<graph>-choices",
 * {choice value: figure}); the switch (a URL control, dashapp.web.controls.visual_switch)
 * only picks one. Switching the R x F grid's colour or the tracking plot's weekly /
 * cumulative view therefore costs no round trip.
 */
(function () {
    "use strict";
    window.dash_clientside = Object.assign({}, window.dash_clientside, {
        switches: {
            pick: function (figures, choice) {
                if (!figures) return window.dash_clientside.no_update;
                if (Object.prototype.hasOwnProperty.call(figures, choice)) return figures[choice];
                /* a value the server refused (its message is on the page): the first variant */
                var keys = Object.keys(figures);
                return keys.length ? figures[keys[0]] : window.dash_clientside.no_update;
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
