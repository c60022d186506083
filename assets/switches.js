/* Purely visual switches, applied in the browser with no server request.
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
            }
        }
    });
})();
