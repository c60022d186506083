/* Drill-down clicks (dashapp/web/components/drill.py): a click on a chart point puts the
 * selection text it carries (the last item of the point's customdata) into the page's hidden
 * URL control "<page>_sel", with no server request; the chip's remove button clears it.
 * A trace of thousands of points (the clustering scatter) carries its points' selection once,
 * in the trace's meta.selection, read from the graph in the page.
 * The URL and the grid follow that control (assets/urlstate.js, assets/grids.js).
 * A click on the countries map sets the country filter the same way ("country").
 */
(function () {
    "use strict";

    /* The selection of a trace: its meta.selection in the graph "graphId" shown. */
    function traceSelection(graphId, curve) {
        var holder = document.getElementById(graphId);
        var gd = holder && (holder.classList.contains("js-plotly-plot") ? holder
            : holder.querySelector(".js-plotly-plot"));
        var trace = gd && gd.data && typeof curve === "number" ? gd.data[curve] : null;
        var meta = trace && trace.meta;
        return meta && typeof meta.selection === "string" ? meta.selection : null;
    }

    function selectionOf(click, graphId) {
        var points = (click && click.points) || [];
        if (!points.length) return null;
        var data = points[0].customdata;
        if (Array.isArray(data)) data = data.length ? data[data.length - 1] : null;
        if (typeof data !== "string") data = traceSelection(graphId, points[0].curveNumber);
        return typeof data === "string" && data !== "" ? data : null;
    }

    /* A click on a treemap tile drills down without zooming into the tile (Plotly zooms a
     * treemap into the tile clicked, leaving no other tile to click): the tile's click is
     * cancelled (plotly_treemapclick returns false, which also stops Plotly's own
     * plotly_click) and handed to the graph's clickData, as a click on any chart is. */
    function tileClick(gd, event) {
        var holder = gd.closest(".dash-graph");
        var point = ((event && event.points) || [])[0];
        var setProps = window.dash_clientside && window.dash_clientside.set_props;
        if (!holder || !holder.id || !point || !setProps) return false;
        var data = point.customdata;
        if (data === undefined && gd.data && gd.data[point.curveNumber]) {
            var custom = gd.data[point.curveNumber].customdata;
            data = custom ? custom[point.pointNumber] : undefined;
        }
        setProps(holder.id, {clickData: {points: [{
            curveNumber: point.curveNumber, pointNumber: point.pointNumber,
            label: point.label, customdata: data
        }]}});
        return false;
    }

    function hookTreemaps() {
        document.querySelectorAll(".js-plotly-plot").forEach(function (gd) {
            if (gd.__drillTiles || typeof gd.on !== "function") return;
            gd.__drillTiles = true;
            gd.on("plotly_treemapclick", function (event) { return tileClick(gd, event); });
        });
    }

    var pending = false;
    new MutationObserver(function () {
        if (pending) return;
        pending = true;
        window.requestAnimationFrame(function () { pending = false; hookTreemaps(); });
    }).observe(document.documentElement, {childList: true, subtree: true});

    window.dash_clientside = Object.assign({}, window.dash_clientside, {
        drill: {
            /* Inputs: the graphs' clickData, then the remove button's n_clicks. */
            pick: function () {
                var nu = window.dash_clientside.no_update;
                var ctx = window.dash_clientside.callback_context;
                var triggered = (ctx.triggered || []).map(function (t) { return t.prop_id; });
                if (triggered.length !== 1) return nu;
                if (/\.n_clicks$/.test(triggered[0])) return "";
                var index = ctx.inputs_list.findIndex(function (item) {
                    return item.id + "." + item.property === triggered[0];
                });
                var graph = index >= 0 ? ctx.inputs_list[index].id : null;
                var chosen = index >= 0 ? selectionOf(arguments[index], graph) : null;
                return chosen === null ? nu : chosen;
            },

            /* A click on a country of the map makes it the country filter (the URL and the
             * page's callbacks follow): the point's customdata is the country's name as the
             * data write it. No request of its own (it was one round trip before the page's). */
            country: function (click, current) {
                var nu = window.dash_clientside.no_update;
                var points = (click && click.points) || [];
                var name = points.length ? points[0].customdata : null;
                if (typeof name !== "string" || name === "") return nu;
                var shown = Array.isArray(current) ? current
                    : (typeof current === "string" && current ? current.split(",") : []);
                return shown.length === 1 && shown[0] === name ? nu : [name];
            }
        }
    });
})();
