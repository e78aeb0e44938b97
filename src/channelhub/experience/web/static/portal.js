// Live order updates: the order page works without this; with it, the page follows the
// order as it changes (the server pushes the new live part over Server-Sent Events).
(function () {
  "use strict";
  var main = document.querySelector("main[data-live]");
  if (!main || !window.EventSource) {
    return;
  }
  var source = new EventSource(main.getAttribute("data-live"));
  source.addEventListener("status", function (event) {
    var update = JSON.parse(event.data);
    ["notice", "error-summary"].forEach(function (id) {
      var stale = document.getElementById(id);
      if (stale) {
        stale.remove();
      }
    });
    document.getElementById("order-live").innerHTML = update.html;
    main.setAttribute("data-status-code", update.code);
    document.getElementById("announcer").textContent = update.headline;
  });
})();
