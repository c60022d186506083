/* URL state in the browser: every page control lives in the query string.
 *
 * Controls that belong in the URL carry a pattern-matching id {"kind": "state", "key": K}
 * (property value) or {"kind": "date", "key": K} (property date); page layout functions read
 * the query back (dashapp/web/urlstate.py), so a shared link or a reload reproduces the view.
 *
 * These clientside callbacks (wired in dashapp/web/shell.py) keep the URL in step without a
 * server round trip and without re-rendering the page: Dash Pages' router only listens to the
 * pathname and to the "page-reload" store (the search is a State of it), so writing the search
 * runs no callback but those whose controls changed.
 *
 *   write  -- a control changed: push the query of every control's value (history entry);
 *   follow -- the search changed under the page (back / forward button, another dataset):
 *             when a control no longer shows the URL's value, or the filter bar was built for
 *             another dataset, ask the router to render the page again;
 *   links  -- navbar links carry the query string, so the filters follow across pages.
 */
(function () {
    "use strict";
    /* Keys whose values are lists, written comma-separated (urlstate.LIST_KEYS). */
    var LIST_KEYS = {countries: true};

    function noUpdate() {
        return window.dash_clientside.no_update;
    }

    /* A control value as the URL writes it: lists comma-joined, blanks "" (urlstate.build_query). */
    function asText(key, value) {
        if (value === null || value === undefined || value === false) return "";
        if (value === true) return "1";
        if (Array.isArray(value) || LIST_KEYS[key]) {
            var items = Array.isArray(value) ? value : String(value).split(",");
            return items.filter(function (v) { return v !== null && v !== undefined && v !== ""; })
                .map(String).join(",");
        }
        return String(value);
    }

    /* "?a=1&b=x" -> {a: "1", b: "x"} (last value wins; blank values dropped). */
    function parseQuery(search) {
        var out = {};
        if (!search) return out;
        new URLSearchParams(search.replace(/^\?/, "")).forEach(function (value, key) {
            if (value !== "") out[key] = value;
        });
        return out;
    }

    /* Query string (with "?", or "") of {key: text}; keys sorted so a view has one URL. */
    function buildQuery(texts) {
        var params = new URLSearchParams();
        Object.keys(texts).sort().forEach(function (key) {
            if (texts[key] !== "") params.append(key, texts[key]);
        });
        var query = params.toString();
        return query ? "?" + query : "";
    }

    /* {key: text} of every URL control on the page (inputs_list / states_list items). */
    function controlTexts(groups) {
        var texts = {};
        groups.forEach(function (items) {
            (items || []).forEach(function (item) {
                texts[item.id.key] = asText(item.id.key, item.value);
            });
        });
        return texts;
    }

    function triggeredIds() {
        var ctx = window.dash_clientside.callback_context;
        return (ctx.triggered || []).map(function (t) {
            var prop = t.prop_id || "";
            var name = prop.slice(0, prop.lastIndexOf("."));
            try {
                return JSON.parse(name);
            } catch (e) {
                return name;
            }
        });
    }

    window.dash_clientside = Object.assign({}, window.dash_clientside, {
        urlstate: {
            write: function (values, dates, current) {
                var ctx = window.dash_clientside.callback_context;
                var ids = triggeredIds();
                var isControl = function (id) { return typeof id === "object" && id !== null; };
                /* A date preset (Overview) sets From and To together: a user change too. */
                var bothDates = ids.length === 2 && ids.every(function (id) {
                    return isControl(id) && id.kind === "date";
                });
                /* Rendering a page "triggers" all of its controls at once: not a user change. */
                if (!bothDates && (ids.length !== 1 || !isControl(ids[0]))) {
                    return noUpdate();
                }
                var changed = ids[0].key;
                var texts = controlTexts(ctx.inputs_list);
                var known = parseQuery(current);
                var echo = ids.every(function (id) {
                    return texts[id.key] === (known[id.key] || "");
                });
                if (echo) {
                    return noUpdate(); /* a control echoing its URL value (pickers on mount) */
                }
                if (changed === "dataset") {
                    /* the date range and countries belonged to the previous dataset */
                    delete texts.start;
                    delete texts.end;
                    delete texts.countries;
                }
                var search = buildQuery(texts);
                return search === (current || "") ? noUpdate() : search;
            },

            follow: function (search, _pathname, values, dates, reloads, barDatasets) {
                var barDataset = (barDatasets || [])[0];
                var ctx = window.dash_clientside.callback_context;
                var triggered = (ctx.triggered || []).map(function (t) { return t.prop_id; });
                if (triggered.indexOf("_pages_location.pathname") >= 0) {
                    return noUpdate(); /* a new page: the router renders it from the URL */
                }
                var wanted = parseQuery(search);
                if (wanted.dataset && barDataset && wanted.dataset !== barDataset) {
                    return (reloads || 0) + 1; /* another dataset: new dates and countries */
                }
                var shown = controlTexts(ctx.states_list.slice(0, 2));
                var stale = Object.keys(shown).some(function (key) {
                    return shown[key] !== (wanted[key] || "");
                });
                return stale ? (reloads || 0) + 1 : noUpdate();
            },

            links: function (search, hrefs) {
                return (hrefs || []).map(function (href) {
                    return String(href || "").split("?")[0] + (search || "");
                });
            }
        }
    });
})();
