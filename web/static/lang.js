// lang.js is the pages' language switch: the choice is kept in a cookie
// (its name is on the <select>, from the server), which outranks the
// browser's Accept-Language, and the page is loaded again in the language
// chosen. The server renders every text; nothing here is translated.
(function () {
  "use strict";
  var YEAR = 365 * 24 * 3600;

  function wire() {
    var sel = document.getElementById("lang");
    if (!sel) return;
    sel.addEventListener("change", function () {
      var name = sel.getAttribute("data-cookie");
      document.cookie = name + "=" + encodeURIComponent(sel.value) +
        "; path=/; max-age=" + YEAR + "; samesite=lax";
      location.reload();
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", wire);
  } else {
    wire();
  }
})();
