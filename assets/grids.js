/* Large customer grids page through the server (AG Grid's infinite row model): the grid asks
 * for blocks of rows (getRowsRequest) and the service filters, sorts and slices them.
 *
 * refresh -- the page's inputs changed: drop the grid's cached blocks and go back to the first
 *            page, so the grid asks for rows under the new inputs (one small request, sent
 *            at once, next to the page's own callbacks). Wired by
 *            dashapp.web.components.serve_rows.
 */
(function () {
    "use strict";
    window.dash_clientside = Object.assign({}, window.dash_clientside, {
        grids: {
            refresh: function () {
                var gridId = arguments[arguments.length - 1];
                if (window.dash_ag_grid && window.dash_ag_grid.getApiAsync) {
                    window.dash_ag_grid.getApiAsync(gridId).then(function (api) {
                        api.purgeInfiniteCache();
                        api.paginationGoToFirstPage();
                    });
                }
                return Date.now();
            }
        }
    });
})();
