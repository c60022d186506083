/* Customer ids in the grids link to the customer page (/customer?id=...), keeping the
 * current query string (dataset, dates, countries, settings), so the customer is shown under
 * the same filters. The page's address comes from the navbar's "Customer" link, which
 * carries the app's URL prefix. Used by dashapp.web.components.customer_column.
 */
(function () {
    "use strict";
    var NAV_ID = JSON.stringify({kind: "nav", path: "/customer"});

    function customerHref(id) {
        var nav = document.getElementById(NAV_ID);
        var base = nav ? String(nav.getAttribute("href") || "").split("?")[0] : "customer";
        var params = new URLSearchParams(window.location.search);
        params.set("id", String(id));
        return base + "?" + params.toString();
    }

    var fns = (window.dashAgGridComponentFunctions = window.dashAgGridComponentFunctions || {});
    fns.CustomerLink = function (props) {
        var id = props.value;
        if (id === null || id === undefined || id === "") return "";
        return React.createElement(
            "a",
            {href: customerHref(id), className: "customer-link", title: "Open this customer"},
            String(id)
        );
    };
})();
