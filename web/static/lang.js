// lang.js is the pages' language switch: the choice is kept in a cookie
// (its name is on the <select>, from the server), which outranks the
// browser's Accept-Language, and the page is loaded again in the language
// chosen. The server renders every text; nothing here is translated.
(function () {
  "use strict";
  var YEAR = 365 * 24 * 3600;
  // CODE_SHOWN is the event boot.js sends once the PC page's QR is on
  // screen (web/static/boot.js: CODE_SHOWN).
  var CODE_SHOWN = "qrsync:code-shown";

  // offerAll puts every language in the switch. The page comes with its
  // own language alone: another's name may be in another script (Chinese
  // on an English page), and the first use of a font for it holds the
  // main thread for tens of ms, which must not delay the first screen.
  function offerAll(sel) {
    var all = document.getElementById("lang-all");
    if (all && all.content && sel.options.length < all.content.children.length) {
      sel.replaceChildren(all.content.cloneNode(true));
    }
  }

  // afterFirstScreen calls f once the first screen is up: on the PC page
  // once its QR is shown, elsewhere once the page has loaded. A timeout
  // covers a boot.js that never says so (missing, or too old).
  function afterFirstScreen(f) {
    var once = function () {
      if (f) {
        var g = f;
        f = null;
        g();
      }
    };
    if (document.getElementById("qr") && !window.qrsyncCodeShown) {
      document.addEventListener(CODE_SHOWN, once);
      setTimeout(once, 5000);
    } else if (document.readyState === "complete") {
      once();
    } else {
      window.addEventListener("load", once);
    }
  }

  function wire() {
    var sel = document.getElementById("lang");
    if (!sel) return;
    afterFirstScreen(function () { offerAll(sel); });
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
